package containerizer

import mesos "github.com/gomesos/gomesos/api/v1/mesos"

// Limitation is why an isolator ended a container: a resource limit it
// enforced (Mesos's ContainerLimitation).
type Limitation struct {
	Reason  mesos.TaskStatus_Reason
	Message string
}

// Killer is an Isolator that can kill every process of a container by
// itself (a cgroup, frozen and killed whole), including those that left
// its session.
type Killer interface {
	KillAll(id string) error
}

// Limiter is an Isolator that may end a container for a limitation: it
// calls the function given to WatchLimits with the container's ID, and
// tells the limitation through Limitation until Cleanup.
type Limiter interface {
	WatchLimits(limited func(id string))
	Limitation(id string) *Limitation
}

// Recoverer is an Isolator with state of its own to recover after an
// agent restart: given the containers adopted, it removes what belongs to
// any other.
type Recoverer interface {
	RecoverIsolation(adopted []string) error
}
