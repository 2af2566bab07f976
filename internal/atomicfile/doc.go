// Package atomicfile replaces a file so that a crash at any moment leaves
// either the old content or the new one, never an empty or partial file:
// the data goes to a temporary file in the same directory, which is
// fsynced, renamed over the target (or hard-linked to it, when the target
// must not be replaced) and the directory fsynced.
//
// MakePrivate takes group and others' permissions off a file or directory
// that must be private (a key, a datastore).
//
// # Why no library
//
// github.com/google/renameio does the temporary file and the rename, but
// not the directory fsync nor a create-only variant (needed so that two
// processes creating an identity at once never replace each other's
// key), and it offers no way to stop a write between two steps, which the
// crash tests of the identity key need. The sequence is 60 lines.
package atomicfile
