package agent

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/gomesos/gomesos/agent/containerizer"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

const (
	megabyte = 1 << 20
	gigabyte = 1 << 30
)

// detectedResources are the agent's resources when --resources does not
// name them (Mesos's Containerizer::resources): every CPU; memory less 1 GB
// (or half of it below 2 GB); the work directory's disk less 5 GB (or half
// of it below 10 GB); ports 31000-32000.
func detectedResources(workDir string) resources.Resources {
	cpus := float64(runtime.NumCPU())
	if cpus < 1 {
		cpus = 1
	}
	mem := float64(gigabyte / megabyte)
	if total := memoryBytes(); total > 0 {
		if total >= 2*gigabyte {
			mem = float64((total - gigabyte) / megabyte)
		} else {
			mem = float64(total / 2 / megabyte)
		}
	}
	disk := float64(10 * gigabyte / megabyte)
	if total := diskBytes(workDir); total > 0 {
		if total >= 10*gigabyte {
			disk = float64((total - 5*gigabyte) / megabyte)
		} else {
			disk = float64(total / 2 / megabyte)
		}
	}
	return resources.New(
		resources.ScalarResource("cpus", resources.ScalarFromFloat(cpus)),
		resources.ScalarResource("mem", resources.ScalarFromFloat(mem)),
		resources.ScalarResource("disk", resources.ScalarFromFloat(disk)),
		resources.PortsResource(resources.Range{Begin: 31000, End: 32000}),
	)
}

// agentResources is --resources with the detected cpus, mem, disk and
// ports added for each of those it does not name.
func agentResources(text, workDir string) ([]*mesos.Resource, error) {
	given, err := resources.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("agent: --resources: %w", err)
	}
	out := given.Clone()
	for _, r := range detectedResources(workDir) {
		if len(given.Get(r.Name)) == 0 {
			out = out.AddResource(r)
		}
	}
	return resources.ToProto(out), nil
}

// isolatorResources adds what the isolators bring (gpu/nvidia's gpus) to
// the agent's resources, for each name those do not have already
// (--resources named it, and the isolator checked that it agrees).
func isolatorResources(res []*mesos.Resource, isolators []containerizer.Isolator) []*mesos.Resource {
	for _, iso := range isolators {
		r, ok := iso.(interface{ AgentResources() []*mesos.Resource })
		if !ok {
			continue
		}
		for _, extra := range r.AgentResources() {
			if !slices.ContainsFunc(res, func(have *mesos.Resource) bool { return have.GetName() == extra.GetName() }) {
				res = append(res, extra)
			}
		}
	}
	return res
}

// agentAttributes parses --attributes.
func agentAttributes(text string) ([]*mesos.Attribute, error) {
	attrs, err := resources.ParseAttributes(text)
	if err != nil {
		return nil, fmt.Errorf("agent: --attributes: %w", err)
	}
	return resources.AttributesToProto(attrs), nil
}
