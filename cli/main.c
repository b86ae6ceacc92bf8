/* cli/main.c: the lpcert command: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "lpcert.h"

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: lpcert <command> [options]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "lpcert: unknown command '%s'\n", argv[1]);
    return 2;
}
