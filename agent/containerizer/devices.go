package containerizer

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// DeviceRule is one entry of a container's device list (a line of cgroups
// v1's devices.allow, a rule of a v2 device program): which devices (Type
// 'a' for all, 'c' for character, 'b' for block; Major and Minor, -1 for
// any) may be used how (Access: some of "rwm", read, write, mknod).
type DeviceRule struct {
	Type         byte
	Major, Minor int64
	Access       string
}

// String writes the rule as devices.allow takes it: "c 1:3 rwm".
func (d DeviceRule) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", d.Type, num(d.Major), num(d.Minor), d.Access)
}

// DefaultDeviceWhitelist is what cgroups/devices lets every container use,
// Mesos's default whitelist (docs/isolators/cgroups-devices.md): making
// any device node; /dev/console, /dev/tty0, /dev/tty1, /dev/pts/*,
// /dev/ptmx, /dev/net/tun, /dev/null, /dev/zero, /dev/full, /dev/tty,
// /dev/urandom and /dev/random.
var DefaultDeviceWhitelist = []DeviceRule{
	{'c', -1, -1, "m"},
	{'b', -1, -1, "m"},
	{'c', 5, 1, "rwm"},
	{'c', 4, 0, "rwm"},
	{'c', 4, 1, "rwm"},
	{'c', 136, -1, "rwm"},
	{'c', 5, 2, "rwm"},
	{'c', 10, 200, "rwm"},
	{'c', 1, 3, "rwm"},
	{'c', 1, 5, "rwm"},
	{'c', 1, 7, "rwm"},
	{'c', 5, 0, "rwm"},
	{'c', 1, 9, "rwm"},
	{'c', 1, 8, "rwm"},
}

// ParseAllowedDevices reads --allowed_devices: a DeviceWhitelist in JSON
// (or "file://" and the path of a file holding it), as Mesos takes it:
//
//	{"allowed_devices": [{"device": {"path": "/dev/fuse"},
//	                      "access": {"read": true, "write": true, "mknod": false}}]}
//
// A device named by path is looked up (it must be a character or block
// device); one named by number is taken as a character device.
func ParseAllowedDevices(text string) ([]DeviceRule, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	if path, ok := strings.CutPrefix(text, "file://"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--allowed_devices: %w", err)
		}
		text = string(b)
	}
	var wl mesos.DeviceWhitelist
	if err := codec.UnmarshalJSON([]byte(text), &wl); err != nil {
		return nil, fmt.Errorf("--allowed_devices: not a DeviceWhitelist in JSON: %w", err)
	}
	var out []DeviceRule
	for i, da := range wl.GetAllowedDevices() {
		var access string
		if da.GetAccess().GetRead() {
			access += "r"
		}
		if da.GetAccess().GetWrite() {
			access += "w"
		}
		if da.GetAccess().GetMknod() {
			access += "m"
		}
		if access == "" {
			return nil, fmt.Errorf("--allowed_devices: entry %d allows no access (read, write or mknod)", i)
		}
		dev := da.GetDevice()
		switch {
		case dev.GetPath() != "":
			typ, major, minor, err := deviceNumber(dev.GetPath())
			if err != nil {
				return nil, fmt.Errorf("--allowed_devices: entry %d: %w", i, err)
			}
			out = append(out, DeviceRule{Type: typ, Major: major, Minor: minor, Access: access})
		case dev.GetNumber() != nil:
			n := dev.GetNumber()
			out = append(out, DeviceRule{Type: 'c', Major: int64(n.GetMajorNumber()), Minor: int64(n.GetMinorNumber()), Access: access})
		default:
			return nil, fmt.Errorf("--allowed_devices: entry %d names no device (a path or a number)", i)
		}
	}
	return out, nil
}
