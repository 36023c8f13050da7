// Package taskenv owns the environment variables Gomesos adds for a task or
// executor from its resources. It does no I/O: the agent's core and the
// built-in executors both use it.
package taskenv

import (
	"strconv"
	"strings"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// PortsEnv is the environment Marathon gives a task for the ports it was
// offered, which Gomesos's agent and built-in executors add themselves
// (Mesos's leave it to the framework): PORT0..PORTn, one per port in the
// order of the resources' ranges; PORT, the first; PORTS, all of them
// separated by commas. (Marathon's PORT_<NAME> needs DiscoveryInfo, which
// these protos do not have.) Nothing is given without ports. Variables for which
// defined says true (the task's own environment sets them) are left out.
func PortsEnv(resources []*mesos.Resource, defined func(name string) bool) []string {
	var ports []string
	for _, r := range resources {
		if r.GetName() != "ports" || r.GetType() != mesos.Value_RANGES {
			continue
		}
		for _, rg := range r.GetRanges().GetRange() {
			for p := rg.GetBegin(); p <= rg.GetEnd() && len(ports) < 65536; p++ {
				ports = append(ports, strconv.FormatUint(p, 10))
			}
		}
	}
	if len(ports) == 0 {
		return nil
	}
	var env []string
	add := func(k, v string) {
		if defined == nil || !defined(k) {
			env = append(env, k+"="+v)
		}
	}
	add("PORT", ports[0])
	for i, p := range ports {
		add("PORT"+strconv.Itoa(i), p)
	}
	add("PORTS", strings.Join(ports, ","))
	return env
}
