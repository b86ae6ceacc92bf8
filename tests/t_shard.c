/* t_shard.c: the public sharding API (include/lpcert_check.h): lp_check_suite_compare_shard on
 * every shard of a suite, lp_check_write_partial, lp_check_merge (any order) give the verdict, the
 * groups and the JSON of lp_check_suite_compare on the whole suite, byte for byte; a missing and a
 * duplicated shard are LP_ERR_INPUT naming the file. The suite and candidate come from the lpcert
 * binary (LPCERT_BIN, set by ctest); without it the test is skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lpcert_check.h"
#include "lpt.h"

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 22);
    *n = b ? fread(b, 1, 1 << 22, f) : 0;
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int ok = x && y && na == nb && memcmp(x, y, na) == 0;
    if (!ok && x && y) {
        size_t i = 0;
        while (i < na && i < nb && x[i] == y[i]) i++;
        lpt_note("%s and %s differ at byte %zu (%zu and %zu bytes)", a, b, i, na, nb);
    }
    free(x);
    free(y);
    return ok;
}

int main(void)
{
    lpt_begin("t_shard");
    const char *bin = getenv("LPCERT_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("t_shard: LPCERT_BIN not set: skipped\n");
        return lpt_end();
    }
    char dir[] = "/tmp/t_shard_XXXXXX";
    if (!mkdtemp(dir)) return lpt_check(0, "mkdtemp"), lpt_end();
    char suite[128], cand[128], cmd[1024];
    snprintf(suite, sizeof suite, "%s/s.safetensors", dir);
    snprintf(cand, sizeof cand, "%s/c.safetensors", dir);
    snprintf(cmd, sizeof cmd, "'%s' gen --dtype f32,bf16 --family normal,neginf,masks,all_masked --seed 3 --out %s "
             ">/dev/null 2>&1 && '%s' check %s --kernel twopass_f32 --save-candidate %s --quiet >/dev/null",
             bin, suite, bin, suite, cand);
    int rc = system(cmd);
    lpt_check(rc == 0 || (rc >> 8) == 1, "suite and candidate from %s (status %d)", bin, rc);
    lp_error err = {LP_OK, ""};
    lp_check_suite *s = NULL;
    lp_status st = lp_check_suite_open(&s, suite, NULL, &err);
    if (!lpt_check(st == LP_OK, "suite open: %s", err.msg)) return lpt_end();
    lp_check *whole = NULL;
    st = lp_check_new(&whole, NULL, &err);
    if (st == LP_OK) st = lp_check_suite_compare(whole, s, cand, 0, &err);
    char ju[160], jm[160];
    snprintf(ju, sizeof ju, "%s/u.json", dir);
    snprintf(jm, sizeof jm, "%s/m.json", dir);
    if (st == LP_OK) st = lp_check_write_json(whole, ju, &err);
    lpt_check(st == LP_OK, "unsharded run: %s", err.msg);
    const int N = 3;
    char parts[3][160];
    for (int i = 1; i <= N && st == LP_OK; i++) {
        lp_check *c = NULL;
        snprintf(parts[i - 1], sizeof parts[0], "%s/p%d.part", dir, i);
        st = lp_check_new(&c, NULL, &err);
        if (st == LP_OK) st = lp_check_suite_compare_shard(c, s, cand, 0, i, N, &err);
        if (st == LP_OK) st = lp_check_write_partial(c, parts[i - 1], &err);
        lpt_check(st == LP_OK, "shard %d/%d: %s", i, N, err.msg);
        lp_check_free(c);
    }
    const char *order[3] = {parts[2], parts[0], parts[1]};
    lp_check *m = NULL;
    if (st == LP_OK) st = lp_check_merge(&m, order, 3, &err);
    lpt_check(st == LP_OK, "merge: %s", err.msg);
    if (st == LP_OK) {
        lpt_check(lp_check_failed(m) == lp_check_failed(whole), "verdict %d, unsharded %d",
                  lp_check_failed(m), lp_check_failed(whole));
        lpt_check(lp_check_values(m) == lp_check_values(whole), "values %lld, unsharded %lld",
                  (long long)lp_check_values(m), (long long)lp_check_values(whole));
        lpt_check(lp_check_group_count(m) == lp_check_group_count(whole), "group counts");
        st = lp_check_write_json(m, jm, &err);
        lpt_check(st == LP_OK && same_file(ju, jm), "merged JSON equals the unsharded one (%s)", err.msg);
        lpt_check(lp_check_problem(m, "x", NULL, NULL, NULL, NULL, &err) != LP_OK,
                  "nothing may be added to a merged run");
    }
    lp_check_free(m);
    /* a missing shard, a duplicate */
    lp_check *bad = NULL;
    err.msg[0] = 0;
    st = lp_check_merge(&bad, order, 2, &err);
    lpt_check(st == LP_ERR_INPUT && strstr(err.msg, "shard 2 of 3") && !bad,
              "a missing shard: status %d, '%s'", (int)st, err.msg);
    const char *dup[4] = {parts[0], parts[1], parts[2], parts[1]};
    st = lp_check_merge(&bad, dup, 4, &err);
    lpt_check(st == LP_ERR_INPUT && strstr(err.msg, parts[1]) && !bad,
              "a duplicated shard: status %d, '%s'", (int)st, err.msg);
    lp_check_free(whole);
    lp_check_suite_free(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) lpt_note("could not remove %s", dir);
    return lpt_end();
}
