/* cli/main.c: the lpcert command: dispatch to one file per subcommand. */
#include <string.h>

#include "cli.h"
#include "lp_mapguard.h"
#include "lpcert_version.h"

static const char usage[] =
    "usage: lpcert <command> [options]\n"
    "\n"
    "commands:\n"
    "  ref    exact (correctly rounded) log-probs, sums and means of logits from a file\n"
    "  gen    export families of the standard suite, with exact expected results\n"
    "  check  a file of a kernel's outputs against the exact reference: report and verdict\n"
    "  certify  a kernel loaded from a shared library (plugin ABI): suite, random, batch invariance\n"
    "  report the accuracy report of every built-in kernel: docs/ACCURACY.md, JSON, SVG figures\n"
    "  fuzz   random problems (the fuzzers' decoder) for a plugin, judged as certify judges them\n"
    "  demo   exact results of a small embedded example\n"
    "  kernels  the built-in kernels (impl/): family, formats, accumulation, proved contract\n"
    "  audit  the gap between two pipelines' log-probs (rollout vs trainer): figures and its split\n"
    "  merge  the partial results of a sharded check or certify (--shard I/N): one report\n"
    "\n"
    "lpcert <command> --help for the options of each. Exit status: 0 success, 1 failure,\n"
    "2 usage or input error.\n";

int main(int argc, char **argv)
{
    /* The process is ours: a mapped input truncated by another process while it is read becomes
     * an input error (lp_tfile_verify) instead of a death by SIGBUS (core/lp_mapguard.h). */
    lp_error gerr = {LP_OK, ""};
    if (lp_mapguard_install(&gerr) != LP_OK) {
        fprintf(stderr, "lpcert: %s\n", gerr.msg);
        return LP_EXIT_FAIL;
    }
    if (argc < 2) {
        fputs(usage, stderr);
        return LP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return LP_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts("lpcert " LPCERT_VERSION_STRING);
        return LP_EXIT_OK;
    }
    if (strcmp(argv[1], "ref") == 0) return lp_cmd_ref(argc - 1, argv + 1);
    if (strcmp(argv[1], "demo") == 0) return lp_cmd_demo(argc - 1, argv + 1);
    if (strcmp(argv[1], "gen") == 0) return lp_cmd_gen(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0) return lp_cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "certify") == 0) return lp_cmd_certify(argc - 1, argv + 1);
    if (strcmp(argv[1], "report") == 0) return lp_cmd_report(argc - 1, argv + 1);
    if (strcmp(argv[1], "fuzz") == 0) return lp_cmd_fuzz(argc - 1, argv + 1);
    if (strcmp(argv[1], "kernels") == 0) return lp_cmd_kernels(argc - 1, argv + 1);
    if (strcmp(argv[1], "audit") == 0) return lp_cmd_audit(argc - 1, argv + 1);
    if (strcmp(argv[1], "merge") == 0) return lp_cmd_merge(argc - 1, argv + 1);
    fprintf(stderr, "lpcert: unknown command '%s' (see lpcert --help)\n", argv[1]);
    return LP_EXIT_USAGE;
}
