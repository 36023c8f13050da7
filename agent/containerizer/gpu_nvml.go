//go:build linux && cgo

package containerizer

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvmlDiscoverer finds GPUs through NVML (libnvidia-ml.so.1, loaded when
// asked).
type nvmlDiscoverer struct{}

func (nvmlDiscoverer) GPUs() ([]GPU, error) {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML cannot be initialized (is the NVIDIA driver, with libnvidia-ml.so.1, installed?): %s", nvml.ErrorString(ret))
	}
	defer nvml.Shutdown()
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML: counting the GPUs: %s", nvml.ErrorString(ret))
	}
	var out []GPU
	for i := range n {
		dev, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML: GPU %d: %s", i, nvml.ErrorString(ret))
		}
		minor, ret := dev.GetMinorNumber()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML: the minor number of GPU %d: %s", i, nvml.ErrorString(ret))
		}
		uuid, _ := dev.GetUUID()
		out = append(out, GPU{Index: i, Major: NvidiaMajor, Minor: int64(minor), UUID: uuid})
	}
	return out, nil
}

func (nvmlDiscoverer) ControlDevices() ([]DeviceRule, error) {
	var out []DeviceRule
	for _, path := range []string{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"} {
		typ, major, minor, err := deviceNumber(path)
		if err != nil {
			if path == "/dev/nvidia-uvm-tools" && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		out = append(out, DeviceRule{Type: typ, Major: major, Minor: minor, Access: "rwm"})
	}
	return out, nil
}
