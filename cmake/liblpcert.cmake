# cmake/liblpcert.cmake (included by the top CMakeLists.txt): liblpcert, the installable C library,
# and everything `cmake --install build --prefix P` puts under P:
#   P/lib/liblpcert.so (SONAME liblpcert.so.<major.minor> while the major is 0), P/lib/liblpcert.a,
#   P/include/lpcert.h, lpcert_check.h, lpcert_plugin.h, lpcert_version.h (generated),
#   P/lib/pkgconfig/lpcert.pc, P/lib/cmake/lpcert/ (find_package(lpcert): lpcert::lpcert, the
#   shared library, and lpcert::lpcert_static), P/bin/lpcert.
# liblpcert holds core, gen, reference, impl, check and report (everything but cli/ and fuzz/), made
# of the same objects as the per-folder static libraries (lp_<part>_obj): each source compiles once,
# with its own flags (reference/fast.c's -O3 and target_clones included). The lpcert binary links
# the per-folder static libraries (the same objects), so it needs no liblpcert.so at run time.
include(CMakePackageConfigHelpers)

set(LP_LIB_OBJECTS)
foreach(part core gen reference impl check report)
  if(TARGET lp_${part}_obj)
    list(APPEND LP_LIB_OBJECTS $<TARGET_OBJECTS:lp_${part}_obj>)
  endif()
endforeach()
# Private dependencies: liblpcert.so records them (DT_NEEDED); users of liblpcert.a get them from
# lpcert.pc (Requires.private, Libs.private) or from the CMake package (find_dependency).
set(LP_LIB_DEPS PkgConfig::MPFR PkgConfig::GMP PkgConfig::CJSON PkgConfig::CRYPTO Threads::Threads
                ${CMAKE_DL_LIBS} m)

add_library(lpcert_shared SHARED ${LP_LIB_OBJECTS})
add_library(lpcert_static STATIC ${LP_LIB_OBJECTS})
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(LP_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(LP_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()
set_target_properties(lpcert_shared PROPERTIES EXPORT_NAME lpcert
                      VERSION ${PROJECT_VERSION} SOVERSION ${LP_SOVERSION})
set_target_properties(lpcert_static PROPERTIES EXPORT_NAME lpcert_static)
foreach(t lpcert_shared lpcert_static)
  set_target_properties(${t} PROPERTIES OUTPUT_NAME lpcert LINKER_LANGUAGE C
                        LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib
                        ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)
  target_include_directories(${t} INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${t} PRIVATE $<BUILD_INTERFACE:lp_flags> ${LP_LIB_DEPS})
endforeach()
# Only the public API is exported (cmake/liblpcert.map): nothing internal is reachable from the .so.
target_link_options(lpcert_shared PRIVATE LINKER:--version-script=${PROJECT_SOURCE_DIR}/cmake/liblpcert.map)
set_target_properties(lpcert_shared PROPERTIES LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/liblpcert.map)
# Every symbol resolved at link time (not with sanitizers: clang leaves their runtime undefined).
if(NOT LP_SANITIZE AND NOT LP_FUZZ)
  target_link_options(lpcert_shared PRIVATE LINKER:--no-undefined)
endif()

# Headers: the public ones only (nothing of core/ or the other folders is reachable from them).
set(LP_PUBLIC_HEADERS ${PROJECT_SOURCE_DIR}/include/lpcert.h
                      ${PROJECT_SOURCE_DIR}/include/lpcert_check.h
                      ${PROJECT_SOURCE_DIR}/include/lpcert_plugin.h
                      ${PROJECT_BINARY_DIR}/include/lpcert_version.h)
install(FILES ${LP_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(TARGETS lpcert_shared lpcert_static EXPORT lpcertTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS lpcert RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The CMake package, relocatable (paths relative to the installed files).
set(LP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/lpcert)
install(EXPORT lpcertTargets NAMESPACE lpcert:: DESTINATION ${LP_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lpcertConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/lpcertConfig.cmake
                              INSTALL_DESTINATION ${LP_CMAKE_DIR})
# 0.x: a minor version may change the API, so find_package(lpcert 0.1) accepts 0.1.* only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lpcertConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lpcertConfig.cmake ${PROJECT_BINARY_DIR}/lpcertConfigVersion.cmake
        DESTINATION ${LP_CMAKE_DIR})

# lpcert.pc, relocatable: prefix is found from the .pc file's own place (pkg-config's pcfiledir).
if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR})
  set(LP_PC_LIBDIR ${CMAKE_INSTALL_LIBDIR})
else()
  set(LP_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE ${CMAKE_INSTALL_INCLUDEDIR})
  set(LP_PC_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR})
else()
  set(LP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
file(RELATIVE_PATH LP_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" LP_PC_TO_PREFIX "${LP_PC_TO_PREFIX}")
set(LP_PC_DL "")
foreach(l ${CMAKE_DL_LIBS})
  string(APPEND LP_PC_DL " -l${l}")
endforeach()
string(STRIP "${LP_PC_DL}" LP_PC_DL)
configure_file(${PROJECT_SOURCE_DIR}/cmake/lpcert.pc.in ${PROJECT_BINARY_DIR}/lpcert.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/lpcert.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
