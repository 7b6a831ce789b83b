/* Temporary directories of the ble-agent tests. */
#ifndef TEST_DIRS_H
#define TEST_DIRS_H

/* Removes path and, if it is a directory, everything under it (symbolic links are removed, not
 * followed). Errors are ignored: a test's leftovers in /tmp must not fail it. */
void remove_tree(const char *path);

#endif
