/* kilnhello: the program half of Kiln's package-set example; it links libkilnhello. */
#include <stdio.h>
#include <kilnhello.h>

int main(void) {
	puts(kilnhello_greeting());
	return 0;
}
