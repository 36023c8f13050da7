package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomesos/gomesos/agent/core"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// Persistent volumes live outside every sandbox, as in Mesos, under
// <work_dir>/volumes/roles/<role>/<persistence id> (a hierarchical role's
// '/' written as ' ', so that one role's directory never holds another's),
// and survive their tasks and the agent's restarts. A task launched with
// a volume in its resources finds it at its container_path inside the
// sandbox: a symbolic link to the volume's directory (see DESIGN notes in
// the README: Gomesos does not bind-mount, so that removing a sandbox can
// never reach into a volume).

// volumePath is where a volume's data lives.
func volumePath(workDir, role, id string) (string, error) {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return "", fmt.Errorf("invalid persistence id %q", id)
	}
	r := strings.ReplaceAll(role, "/", " ")
	if r == "" || r == "." || r == ".." || strings.ContainsRune(r, 0) {
		return "", fmt.Errorf("invalid role %q", role)
	}
	return filepath.Join(workDir, "volumes", "roles", r, id), nil
}

// applyVolumes makes and removes volume directories as the core asks.
func (a *Agent) applyVolumes(v core.Volumes) {
	for _, vol := range v.Create {
		p, err := volumePath(a.cfg.WorkDir, vol.Role, vol.ID)
		if err == nil {
			err = os.MkdirAll(p, 0o755)
		}
		if err != nil {
			a.log.Error("making a persistent volume's directory", "role", vol.Role, "id", vol.ID, "err", err)
		}
	}
	for _, vol := range v.Remove {
		p, err := volumePath(a.cfg.WorkDir, vol.Role, vol.ID)
		if err == nil {
			err = os.RemoveAll(p)
		}
		if err != nil {
			a.log.Error("removing a persistent volume's directory", "role", vol.Role, "id", vol.ID, "err", err)
		}
	}
}

// linkVolumes makes each persistent volume of a container's resources
// appear at its container_path inside the sandbox dir.
func linkVolumes(workDir, dir string, rs []*mesos.Resource) error {
	if dir == "" {
		return nil
	}
	var errs []error
	for _, pb := range rs {
		id := pb.GetDisk().GetPersistence().GetId()
		if id == "" {
			continue
		}
		r, err := resources.ResourceFromProto(pb)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		src, err := volumePath(workDir, r.ReservationRole(), id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cp := pb.GetDisk().GetVolume().GetContainerPath()
		if cp == "" || filepath.IsAbs(cp) || !filepath.IsLocal(cp) {
			errs = append(errs, fmt.Errorf("volume %s: container path %q is not a relative path inside the sandbox", id, cp))
			continue
		}
		if err := os.MkdirAll(src, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		dst := filepath.Join(dir, cp)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if target, err := os.Readlink(dst); err == nil && target == src {
			continue
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
			errs = append(errs, err)
			continue
		}
		if err := os.Symlink(src, dst); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func hasVolumes(rs []*mesos.Resource) bool {
	for _, r := range rs {
		if r.GetDisk().GetPersistence().GetId() != "" {
			return true
		}
	}
	return false
}
