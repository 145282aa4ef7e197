/* libkilnhello: the library half of Kiln's package-set example. */
#ifndef KILNHELLO_H
#define KILNHELLO_H
/* A greeting naming the library's version (1.1 added it; kilnhello needs it). */
const char *kilnhello_greeting(void);
#endif
