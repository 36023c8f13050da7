// Package idstest lists the ids Mesos refuses, with the message its
// validateID gives for each, for the tests of every place an id comes in.
package idstest

import "strings"

// Bad are ids Mesos's validateID refuses, each with its message: the path
// escapes, the separators, a control character, and the empty and too
// long ids.
var Bad = []struct{ ID, Msg string }{
	{"../../x", "'../../x' contains invalid characters"},
	{"..", "'..' is disallowed"},
	{".", "'.' is disallowed"},
	{"a/b", "'a/b' contains invalid characters"},
	{`a\b`, `'a\b' contains invalid characters`},
	{"a\x01b", "'a\x01b' contains invalid characters"},
	{"", "ID must not be empty"},
	{strings.Repeat("x", 256), "ID must not be greater than 255 characters"},
}
