/*
 * no-criterion.c - what every unit test program is built from when configure found no criterion (the unit
 * tests' framework): it says what to install and exits 77, which automake reports as SKIP.
 */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("SKIP: %s needs the criterion test framework: install libcriterion-dev "
	       "(apt-get install libcriterion-dev) and run configure again\n",
	       argc > 0 ? argv[0] : "this unit test");
	return 77;
}
