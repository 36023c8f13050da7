package ids

import (
	"path/filepath"
	"strings"
	"testing"
)

// Mesos's validateID: the message for each way an id can be wrong, in the
// order Mesos checks them.
func TestValidateIsMesosValidateID(t *testing.T) {
	for _, tc := range []struct {
		id, want string
	}{
		{"", "ID must not be empty"},
		{strings.Repeat("x", 256), "ID must not be greater than 255 characters"},
		{".", "'.' is disallowed"},
		{"..", "'..' is disallowed"},
		{"../../x", "'../../x' contains invalid characters"},
		{"a/b", "'a/b' contains invalid characters"},
		{`a\b`, `'a\b' contains invalid characters`},
		{"a\x01b", "'a\x01b' contains invalid characters"},
		{"a\x00", "'a\x00' contains invalid characters"},
		{"tab\there", "'tab\there' contains invalid characters"},
		{"del\x7f", "'del\x7f' contains invalid characters"},
		{"/", "'/' contains invalid characters"},
	} {
		err := Validate(tc.id)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%q) = %v, want %q", tc.id, err, tc.want)
		}
	}
	for _, id := range []string{
		"a", "...", ".a", "a.", "-", "*", "a b", "task-1.2", "é", "名前",
		"0123e4567-e89b-42d3-a456-426614174000-0000", strings.Repeat("x", 255),
	} {
		if err := Validate(id); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", id, err)
		}
	}
}

func TestValidateContainerID(t *testing.T) {
	if err := ValidateContainerID("0f8e4c56-1b7d-4f6a-9c3e-2d5b7a9e1f00"); err != nil {
		t.Errorf("a UUID: %v", err)
	}
	if err := ValidateContainerID(".."); err == nil || err.Error() != "'..' is disallowed" {
		t.Errorf("'..': %v", err)
	}
	for _, id := range []string{"a.b", "a b"} {
		want := "'ContainerID.value' '" + id + "' contains invalid characters"
		if err := ValidateContainerID(id); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", id, err, want)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		root, p string
		want    bool
	}{
		{"/w", "/w", true},
		{"/w", "/w/", true},
		{"/w/", "/w/a", true},
		{"/w", "/w/a/b/../c", true},
		{"/w", "/w/a/../..", false},
		{"/w", "/w/../w2", false},
		{"/w", "/wx", false},
		{"/w", "/", false},
		{"/", "/anything", true},
		{"rel", "rel/a", true},
		{"rel", "/rel/a", false},
	} {
		if got := Within(tc.root, tc.p); got != tc.want {
			t.Errorf("Within(%q, %q) = %v, want %v", tc.root, tc.p, got, tc.want)
		}
	}
}

func TestSandbox(t *testing.T) {
	got, err := Sandbox("/w", "A-S0", "A-0000", "ex", "c1")
	if want := filepath.FromSlash("/w/slaves/A-S0/frameworks/A-0000/executors/ex/runs/c1"); err != nil || got != want {
		t.Fatalf("Sandbox = %q, %v; want %q", got, err, want)
	}
	for _, tc := range []struct {
		agent, fw, ex, container, want string
	}{
		{"..", "f", "e", "c", "Agent ID is invalid: '..' is disallowed"},
		{"a", "", "e", "c", "Framework ID is invalid: ID must not be empty"},
		{"a", "f", "../../x", "c", "Executor ID is invalid: '../../x' contains invalid characters"},
		{"a", "f", "e", ".", "Container ID is invalid: '.' is disallowed"},
		{"a", "f", "e", "c.d", "Container ID is invalid: 'ContainerID.value' 'c.d' contains invalid characters"},
	} {
		p, err := Sandbox("/w", tc.agent, tc.fw, tc.ex, tc.container)
		if err == nil || err.Error() != tc.want || p != "" {
			t.Errorf("Sandbox(%q, %q, %q, %q) = %q, %v; want error %q", tc.agent, tc.fw, tc.ex, tc.container, p, err, tc.want)
		}
	}
	if _, err := Sandbox("", "a", "f", "e", "c"); err == nil {
		t.Error("a sandbox without a work directory")
	}
}
