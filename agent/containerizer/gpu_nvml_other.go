//go:build !linux || !cgo

package containerizer

import "errors"

// nvmlDiscoverer stands for NVML where this build cannot load it.
type nvmlDiscoverer struct{}

var errNoNVML = errors.New("NVML is not available in this build (it needs Linux and cgo)")

func (nvmlDiscoverer) GPUs() ([]GPU, error)                  { return nil, errNoNVML }
func (nvmlDiscoverer) ControlDevices() ([]DeviceRule, error) { return nil, errNoNVML }
