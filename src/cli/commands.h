/* One function per `kvspill` command; each lives in its own cmd_*.c file (the `bench`
 * commands are the tools' benchmark drivers, tools/bench/bench.h). A command gets
 * the arguments after its name (argv[0] is the command's full name, e.g. "cache ls") and
 * returns the process exit status: 0 success, 1 the command found a problem (a damaged
 * object, a failed check), 2 a usage error or the command could not run. */
#ifndef KVSPILL_CLI_COMMANDS_H
#define KVSPILL_CLI_COMMANDS_H

int cmd_cache_ls(int argc, char **argv);
int cmd_cache_stat(int argc, char **argv);
int cmd_cache_verify(int argc, char **argv);
int cmd_cache_gc(int argc, char **argv);

int cmd_model_info(int argc, char **argv);
int cmd_model_gen(int argc, char **argv);
int cmd_model_tokenize(int argc, char **argv);
int cmd_model_logits(int argc, char **argv);

int cmd_generate(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_router(int argc, char **argv);

#endif
