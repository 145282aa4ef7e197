#include "kilnhello.h"

#define KILNHELLO_VERSION "1.1"

const char *kilnhello_greeting(void) {
	return "Hello from libkilnhello " KILNHELLO_VERSION;
}
