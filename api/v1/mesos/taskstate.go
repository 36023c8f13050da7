package mesos

// IsTerminal reports whether a task in state s is done for good, as Mesos's
// protobuf::isTerminalState: TASK_UNREACHABLE and TASK_UNKNOWN may still
// change.
func (s TaskState) IsTerminal() bool {
	switch s {
	case TaskState_TASK_FINISHED, TaskState_TASK_FAILED, TaskState_TASK_KILLED,
		TaskState_TASK_ERROR, TaskState_TASK_LOST, TaskState_TASK_DROPPED,
		TaskState_TASK_GONE, TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}
