package containerizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// The namespaces/pid and filesystem/linux isolators give a container
// namespaces of its own. They only ask for them: Prepare sets the clone
// flags of the supervisor, which starts as the first process of the new
// namespaces, and hands it a mount plan (mountsEnv); the supervisor carries
// the plan out inside the namespaces, before the executor starts, and
// drops the variable from the executor's environment. Nothing is mounted
// in the agent's own namespace, so there is nothing to undo when the
// container ends (its mount namespace goes with its last process) and
// nothing to recover after an agent restart: a recovered container keeps
// its namespaces.

// mountsEnv carries the mount plan, as JSON, to the supervisor.
const mountsEnv = "GOMESOS_SUPERVISOR_MOUNTS"

// mountPlan is what the supervisor mounts in the container's private
// mount namespace. Every mount it makes is private to that namespace: the
// namespace's mounts are first made slaves of the host's, so the host's
// later mounts still show inside but nothing mounted inside propagates out.
type mountPlan struct {
	// Binds are made in order.
	Binds []bindMount `json:"binds,omitempty"`
	// Keep are paths that must stay reachable inside: the sandbox, the
	// container's runtime directory (where the supervisor records the
	// executor's end) and the executor's program. One that a bind covers
	// (it lies below /tmp, say) is bound again at its own path afterwards,
	// so that MESOS_SANDBOX, say, still names the sandbox inside.
	Keep []string `json:"keep,omitempty"`
	// Dir is the sandbox, the supervisor's working directory, entered
	// again once everything is mounted: the directory it started in may
	// be the one now covered, without the volumes bound in the sandbox.
	Dir string `json:"dir,omitempty"`
	// Proc mounts a new /proc, showing the container's own pid namespace.
	Proc bool `json:"proc,omitempty"`
}

// bindMount binds Source at Target.
type bindMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// editPlan changes the mount plan cmd hands the supervisor.
func editPlan(cmd *exec.Cmd, edit func(*mountPlan)) error {
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	var plan mountPlan
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, mountsEnv+"="); ok {
			if err := json.Unmarshal([]byte(v), &plan); err != nil {
				return fmt.Errorf("read the mount plan: %w", err)
			}
			continue
		}
		out = append(out, kv)
	}
	edit(&plan)
	b, err := json.Marshal(plan)
	if err != nil {
		return fmt.Errorf("write the mount plan: %w", err)
	}
	cmd.Env = append(out, mountsEnv+"="+string(b))
	return nil
}

// supervised reports whether cmd starts a container supervisor, which the
// namespace isolators need: it is what sets up the namespaces inside.
func supervised(cmd *exec.Cmd) bool {
	return len(cmd.Args) > 1 && cmd.Args[1] == SuperviseArg
}

// errNeedsSupervisor is Prepare's error for an executor started without a
// supervisor.
var errNeedsSupervisor = errors.New("the container has no supervisor to set its namespaces up (the containerizer needs a SupervisorPath)")

// sandboxTmp is the sandbox's directory that filesystem/linux binds at
// /tmp.
const sandboxTmp = "tmp"

// volumeBinds turns a ContainerInfo's volumes into binds, creating in the
// sandbox what they need there: a relative host_path is a directory of the
// sandbox (Mesos's old shared-filesystem volumes: host_path "tmp",
// container_path "/tmp" gives a container its own /tmp); a relative
// container_path is a path in the sandbox. Sources other than a host path
// or the container's own sandbox are refused.
func volumeBinds(sandbox string, ci *mesos.ContainerInfo) ([]bindMount, error) {
	var out []bindMount
	for i, v := range ci.GetVolumes() {
		cpath := v.GetContainerPath()
		if cpath == "" {
			return nil, fmt.Errorf("volume %d has no container_path", i)
		}
		var src string
		switch s := v.GetSource(); {
		case s == nil:
			src = v.GetHostPath()
			if src == "" {
				return nil, fmt.Errorf("volume %q has neither host_path nor source", cpath)
			}
			if !filepath.IsAbs(src) {
				if !filepath.IsLocal(src) {
					return nil, fmt.Errorf("volume %q: host_path %q leaves the sandbox", cpath, src)
				}
				src = filepath.Join(sandbox, src)
				mode := os.FileMode(0o755)
				if filepath.IsAbs(cpath) {
					if fi, err := os.Stat(cpath); err == nil && fi.IsDir() {
						mode = fi.Mode() & (os.ModePerm | os.ModeSticky)
					}
				}
				if err := os.MkdirAll(src, 0o755); err != nil {
					return nil, fmt.Errorf("volume %q: %w", cpath, err)
				}
				if err := os.Chmod(src, mode); err != nil {
					return nil, fmt.Errorf("volume %q: %w", cpath, err)
				}
			}
		case s.GetType() == mesos.Volume_Source_HOST_PATH:
			src = s.GetHostPath().GetPath()
			if !filepath.IsAbs(src) {
				return nil, fmt.Errorf("volume %q: host path %q is not absolute", cpath, src)
			}
		case s.GetType() == mesos.Volume_Source_SANDBOX_PATH:
			sp := s.GetSandboxPath()
			if sp.GetType() != mesos.Volume_Source_SandboxPath_SELF {
				return nil, fmt.Errorf("volume %q: only SELF sandbox paths are supported (a container here has no parent)", cpath)
			}
			if !filepath.IsLocal(sp.GetPath()) {
				return nil, fmt.Errorf("volume %q: sandbox path %q leaves the sandbox", cpath, sp.GetPath())
			}
			src = filepath.Join(sandbox, sp.GetPath())
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, fmt.Errorf("volume %q: %w", cpath, err)
			}
		default:
			return nil, fmt.Errorf("volume %q: source type %s is not supported by this agent", cpath, s.GetType())
		}
		fi, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("volume %q: source: %w", cpath, err)
		}
		target := cpath
		if !filepath.IsAbs(target) {
			if !filepath.IsLocal(target) {
				return nil, fmt.Errorf("volume %q leaves the sandbox", cpath)
			}
			target = filepath.Join(sandbox, target)
			if err := makeMountPoint(target, fi.IsDir()); err != nil {
				return nil, fmt.Errorf("volume %q: %w", cpath, err)
			}
		} else if _, err := os.Stat(target); err != nil {
			// Without a root filesystem of its own, the container sees the
			// host's: an absolute container path must exist there.
			return nil, fmt.Errorf("volume %q: the container path must exist on the host: %w", cpath, err)
		}
		out = append(out, bindMount{Source: src, Target: target, ReadOnly: v.GetMode() == mesos.Volume_RO})
	}
	return out, nil
}

// makeMountPoint creates a directory, or an empty file, to mount on.
func makeMountPoint(path string, dir bool) error {
	if dir {
		return os.MkdirAll(path, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// ParseContainerInfo reads a ContainerInfo in JSON, as
// --default_container_info takes it. Only a MESOS container is accepted:
// a DOCKER one would not run through the isolators that honour it.
func ParseContainerInfo(s string) (*mesos.ContainerInfo, error) {
	var ci mesos.ContainerInfo
	if err := protojson.Unmarshal([]byte(s), &ci); err != nil {
		return nil, err
	}
	if ci.GetType() != mesos.ContainerInfo_MESOS {
		return nil, fmt.Errorf("only a ContainerInfo of type MESOS is supported, not %s", ci.GetType())
	}
	return &ci, nil
}
