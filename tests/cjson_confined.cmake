# tests/cjson_confined.cmake: cJSON stays thread-safe by construction (core/safetensors.c, "cJSON
# and threads"): no source of lpcert calls cJSON_InitHooks (the global allocation hooks stay
# read-only), cJSON_GetErrorPtr (the global error record), or a cJSON parse anywhere but
# core/safetensors.c, whose one parse holds parse_lock.
# usage: cmake -DSRC=<source root> -P tests/cjson_confined.cmake
file(GLOB_RECURSE files RELATIVE ${SRC} ${SRC}/*.c ${SRC}/*.h)
set(bad "")
foreach(f ${files})
  if(f MATCHES "^(build|\\.git)")
    continue()
  endif()
  file(STRINGS ${SRC}/${f} hits REGEX "cJSON_InitHooks|cJSON_GetErrorPtr|cJSON_Parse")
  foreach(h ${hits})
    if(f STREQUAL "core/safetensors.c" AND h MATCHES "cJSON_ParseWithOpts\\(text" )
      continue()
    endif()
    if(h MATCHES "^ *(/\\*|\\*)")   # a comment line
      continue()
    endif()
    string(APPEND bad "\n  ${f}: ${h}")
  endforeach()
endforeach()
file(STRINGS ${SRC}/core/safetensors.c locked REGEX "pthread_mutex_lock\\(&parse_lock\\)")
if(NOT locked)
  string(APPEND bad "\n  core/safetensors.c: the parse is not under parse_lock")
endif()
if(bad)
  message(FATAL_ERROR "cJSON used outside its thread-safe confinement:${bad}")
endif()
message(STATUS "cjson_confined: ok")
