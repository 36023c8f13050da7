package master

// Test hooks: what waits in the queues of the master's streams.

// QueueStats is what waits to be written to one stream, and the most that
// ever did.
type QueueStats = queueStats

// FrameworkQueue is the queue of the framework's current event stream; ok
// is false when the master holds none for it.
func (m *Master) FrameworkQueue(frameworkID string) (st QueueStats, ok bool) {
	_ = m.do(func() {
		for _, s := range m.frameworkSinks {
			if s.id == frameworkID {
				st, ok = s.stats(), true
			}
		}
	})
	return st, ok
}

// AgentQueue is the queue of the agent's current connection; ok is false
// when the master holds none for it.
func (m *Master) AgentQueue(agentID string) (st QueueStats, ok bool) {
	_ = m.do(func() {
		for _, s := range m.agentSinks {
			if s.id == agentID {
				st, ok = s.stats(), true
			}
		}
	})
	return st, ok
}

// WaitingAgents is how many agents' subscriptions wait for a leader.
func (m *Master) WaitingAgents() int64 { return m.waitingAgents.Load() }
