package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// Persistent volumes live outside every sandbox, as in Mesos, under
// <work_dir>/volumes/roles/<role>/<persistence id> (a hierarchical role's
// '/' written as ' ', so that one role's directory never holds another's),
// and survive their tasks and the agent's restarts. A task launched with
// a volume in its resources finds it at its container_path inside the
// sandbox: bound there inside the container's own mount namespace when
// the filesystem/linux isolator gives it one (nothing is mounted on the
// host, so removing a sandbox never reaches into a volume), a symbolic
// link to the volume's directory otherwise.

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

// persistentVolume is a persistent volume of a container's resources:
// where its data lives and where the task finds it in the sandbox.
type persistentVolume struct {
	id            string
	source        string // the volume's directory
	containerPath string // relative to the sandbox
	readOnly      bool
}

// persistentVolumes lists the persistent volumes among rs, their
// directories made should they be missing.
func persistentVolumes(workDir string, rs []*mesos.Resource) ([]persistentVolume, error) {
	var out []persistentVolume
	for _, pb := range rs {
		id := pb.GetDisk().GetPersistence().GetId()
		if id == "" {
			continue
		}
		r, err := resources.ResourceFromProto(pb)
		if err != nil {
			return nil, err
		}
		src, err := volumePath(workDir, r.ReservationRole(), id)
		if err != nil {
			return nil, err
		}
		cp := pb.GetDisk().GetVolume().GetContainerPath()
		if cp == "" || filepath.IsAbs(cp) || !filepath.IsLocal(cp) {
			return nil, fmt.Errorf("volume %s: container path %q is not a relative path inside the sandbox", id, cp)
		}
		if err := os.MkdirAll(src, 0o755); err != nil {
			return nil, err
		}
		out = append(out, persistentVolume{id: id, source: src, containerPath: cp, readOnly: pb.GetDisk().GetVolume().GetMode() == mesos.Volume_RO})
	}
	return out, nil
}

// linkVolumes makes each persistent volume of a container's resources
// appear at its container_path inside the sandbox dir, as a symbolic link
// (for containers without a mount namespace of their own).
func linkVolumes(workDir, dir string, rs []*mesos.Resource) error {
	vols, err := persistentVolumes(workDir, rs)
	if err != nil {
		return err
	}
	var errs []error
	for _, v := range vols {
		dst := filepath.Join(dir, v.containerPath)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if target, err := os.Readlink(dst); err == nil && target == v.source {
			continue
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
			errs = append(errs, err)
			continue
		}
		if err := os.Symlink(v.source, dst); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", v.id, err))
		}
	}
	return errors.Join(errs...)
}

// bindVolumes returns the container's ContainerInfo with each persistent
// volume of its resources added as a volume bound from the volume's
// directory at its container_path: the filesystem/linux isolator binds it
// inside the container's own mount namespace, so nothing is mounted on
// the host and removing the sandbox never reaches the volume.
func bindVolumes(workDir string, ci *mesos.ContainerInfo, rs []*mesos.Resource) (*mesos.ContainerInfo, error) {
	vols, err := persistentVolumes(workDir, rs)
	if err != nil || len(vols) == 0 {
		return ci, err
	}
	if ci == nil {
		ci = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum()}
	} else {
		ci = proto.Clone(ci).(*mesos.ContainerInfo)
	}
	for _, v := range vols {
		mode := mesos.Volume_RW
		if v.readOnly {
			mode = mesos.Volume_RO
		}
		ci.Volumes = append(ci.Volumes, &mesos.Volume{ContainerPath: proto.String(v.containerPath), HostPath: proto.String(v.source), Mode: mode.Enum()})
	}
	return ci, nil
}

func hasVolumes(rs []*mesos.Resource) bool {
	for _, r := range rs {
		if r.GetDisk().GetPersistence().GetId() != "" {
			return true
		}
	}
	return false
}
