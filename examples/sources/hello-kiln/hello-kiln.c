/* hello-kiln: the example package Kiln builds, signs, publishes and promotes. */
#include <stdio.h>
#include <string.h>

#define VERSION "1.0.0"

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--version") == 0) {
    printf("hello-kiln %s\n", VERSION);
    return 0;
  }
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: hello-kiln [--version] [NAME]\n");
    return 0;
  }
  printf("Hello, %s, from a package Kiln built.\n", argc > 1 ? argv[1] : "world");
  return 0;
}
