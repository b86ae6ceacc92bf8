/* fz_npy.c: any byte string is parsed by lp_tfile_parse into one consistent .npy tensor or
 * rejected with one clean error line; never a crash, an overflow or a read outside the input.
 * The seeds and the dictionary (npy.dict) start from the .npy magic; inputs without it go to the
 * safetensors parser, which must behave just as well (fz_tfile.h says what is checked). */
#include <stddef.h>
#include <stdint.h>

#include "fz_tfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_tfile_close(lp_fz_tfile_parse("fz_npy", data, size));
    return 0;
}
