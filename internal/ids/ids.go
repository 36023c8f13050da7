// Package ids is the one home of Mesos's rule for the ids that frameworks,
// agents, executors, tasks and containers are named by (Mesos's
// common::validation::validateID), and of the check that a path built from
// such ids stays inside the directory it was built under.
//
// Those ids become directory names on agents: a sandbox is
// <work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>,
// and the files endpoints serve it under virtual paths made of the same ids.
// An id that is "." or "..", holds a slash, a backslash or a control
// character, or is too long for a file name could lead such a path out of
// the work directory, so every place an id enters (the scheduler API, the
// master's launch validation, the agent protocol, the executor API, the
// agent's launches and the containerizer) refuses it with Mesos's message.
//
// The package is pure: it does no I/O and reads no clock, so the master's
// and the agent's cores call it. It must not grow any.
package ids

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// MaxLen is the longest id, in bytes: NAME_MAX, the longest file name.
const MaxLen = 255

// Validate checks an id by Mesos's rule and returns Mesos's message for the
// first thing wrong with it: it must not be empty, be longer than MaxLen
// bytes, be exactly "." or "..", or hold a control character, '/' or '\'.
func Validate(id string) error {
	if id == "" {
		return errors.New("ID must not be empty")
	}
	if len(id) > MaxLen {
		return fmt.Errorf("ID must not be greater than %d characters", MaxLen)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("'%s' is disallowed", id)
	}
	for i := 0; i < len(id); i++ {
		if invalidByte(id[i]) {
			return fmt.Errorf("'%s' contains invalid characters", id)
		}
	}
	return nil
}

// invalidByte reports a byte no id may hold: what C's iscntrl calls a
// control character in the "C" locale (0x00-0x1f and 0x7f), and both path
// separators. Bytes of multi-byte UTF-8 characters are all >= 0x80 and pass.
func invalidByte(b byte) bool {
	return b < 0x20 || b == 0x7f || b == '/' || b == '\\'
}

// ValidateContainerID checks a container id: Validate's rule, and, as
// Mesos's validateContainerId adds, no '.' (the separator of nested
// container ids in their string form) and no space.
func ValidateContainerID(id string) error {
	if err := Validate(id); err != nil {
		return err
	}
	if strings.ContainsAny(id, ". ") {
		return fmt.Errorf("'ContainerID.value' '%s' contains invalid characters", id)
	}
	return nil
}

// Within reports whether path p, once cleaned, is root or lies below it.
// It is lexical: it does not see symbolic links, which whoever creates or
// opens the path has to refuse on disk.
func Within(root, p string) bool {
	root = filepath.Clean(root)
	p = filepath.Clean(p)
	if p == root {
		return true
	}
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		root += string(filepath.Separator)
	}
	return strings.HasPrefix(p, root)
}

// Sandbox is the directory of one run of an executor, Mesos's executor run
// path: <workDir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>.
// Each id must pass Validate (the container id ValidateContainerID), and the
// joined path must stay below workDir; otherwise Sandbox returns an error
// and no path.
func Sandbox(workDir, agentID, frameworkID, executorID, containerID string) (string, error) {
	if err := ValidateContainerID(containerID); err != nil {
		return "", fmt.Errorf("Container ID is invalid: %w", err)
	}
	run, err := ExecutorRuns(workDir, agentID, frameworkID, executorID)
	if err != nil {
		return "", err
	}
	return below(workDir, filepath.Join(run, containerID))
}

// Framework is a framework's directory of sandboxes on an agent:
// <workDir>/slaves/<agent>/frameworks/<framework>. The ids are checked as
// Sandbox checks them.
func Framework(workDir, agentID, frameworkID string) (string, error) {
	if err := Validate(agentID); err != nil {
		return "", fmt.Errorf("Agent ID is invalid: %w", err)
	}
	if err := Validate(frameworkID); err != nil {
		return "", fmt.Errorf("Framework ID is invalid: %w", err)
	}
	return below(workDir, filepath.Join(workDir, "slaves", agentID, "frameworks", frameworkID))
}

// ExecutorRuns is the directory that holds an executor's runs (and its
// "latest" link): <workDir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs.
// The ids are checked as Sandbox checks them.
func ExecutorRuns(workDir, agentID, frameworkID, executorID string) (string, error) {
	fw, err := Framework(workDir, agentID, frameworkID)
	if err != nil {
		return "", err
	}
	if err := Validate(executorID); err != nil {
		return "", fmt.Errorf("Executor ID is invalid: %w", err)
	}
	return below(workDir, filepath.Join(fw, "executors", executorID, "runs"))
}

// below returns p when it lies strictly below root, else an error.
func below(root, p string) (string, error) {
	if root == "" || filepath.Clean(p) == filepath.Clean(root) || !Within(root, p) {
		return "", fmt.Errorf("path '%s' is not inside '%s'", p, root)
	}
	return p, nil
}
