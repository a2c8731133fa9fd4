/* Subcommands of the corral tool. */
#ifndef CORRAL_TOOL_H
#define CORRAL_TOOL_H

int tool_run(int argc, char **argv);
int tool_exec(int argc, char **argv);
int tool_doctor(int argc, char **argv);
int tool_mcp(int argc, char **argv);

#endif
