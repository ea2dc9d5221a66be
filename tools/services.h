/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cls-redirect-config services (tools/services.c; cls-redirect-config.8).
 */
#ifndef CLS_REDIRECT_TOOLS_SERVICES_H
#define CLS_REDIRECT_TOOLS_SERVICES_H

#include "common.h"

/* Checks the words after "services" (add ... | del ...) before anything
 * is touched; EXIT_OK or EXIT_USAGE. */
int services_parse(int argc, char **argv);
/* Runs services add|del with the pin directory locked. */
int services_run(const char *dir, int argc, char **argv);
/* Sets CLS_REDIRECT_F_SERVICES and _ANY_PORT in cfg as the services map
 * pinned in dir has entries with a port and with port 0 (set calls it
 * before it writes). */
int services_flag(const char *dir, struct cls_redirect_config *cfg);
/* The services listed, for show: one "service ..." line each, or with j an
 * array "services" of objects; nothing when the map is not pinned. */
int services_show(const char *dir, struct json *j);

#endif /* CLS_REDIRECT_TOOLS_SERVICES_H */
