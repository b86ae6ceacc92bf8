/* fz_partial.c: any byte string given to the partial-file reader of sharded runs
 * (check/shard.c, ck_partial_parse) is parsed into one consistent run or rejected with one clean
 * error line naming the file; never a crash, an overflow or a read outside the input. A partial
 * that parses and is of one shard (1/1) is then merged alone and its text report rendered (to
 * memory): the report code must take whatever the reader accepts. Seeds: partial files of
 * `lpcert check|certify --shard` (fuzz/corpus/partial/). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_check_shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_error err = {LP_OK, ""};
    ck_partial *p = NULL;
    lp_status s = ck_partial_parse(&p, "fz", (const char *)data, size, &err);
    if (s != LP_OK) {
        /* one line naming the file */
        if (!err.msg[0] || strchr(err.msg, '\n') || strncmp(err.msg, "partial fz", 10) != 0) abort();
        return 0;
    }
    ck_partial *m = NULL;
    s = ck_partial_merge(&m, &p, 1, &err);   /* takes p over */
    if (s != LP_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n')) abort();
        return 0;
    }
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (f) {
        ck_report_table(f, ck_partial_run(m), ck_partial_header(m));
        fclose(f);
    }
    free(buf);
    ck_partial_free(m);
    return 0;
}
