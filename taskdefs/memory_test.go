package taskdefs_test

import (
	"regexp"
	"strconv"
	"testing"
)

// jvmNonHeapMiB is what a Connect JVM takes beyond its heap: metaspace,
// thread stacks, direct buffers, code cache.
const jvmNonHeapMiB = 512

// TestSidecarMemoryLeavesTheJVMItsShare checks the connect-sidecar
// container's memory settings: a reservation ECS keeps for it, a Go memory
// limit (GOMEMLIMIT) under that reservation so that the garbage collector
// works before the sidecar outgrows it, and, with the JVM's heap sized from
// the task's memory by the Connect image, room left for both in the task.
func TestSidecarMemoryLeavesTheJVMItsShare(t *testing.T) {
	in := loadTask(t, render(t, "plaintext"), "connect-task.json")
	sc := containers(in)["connect-sidecar"]
	if sc.MemoryReservation == nil || *sc.MemoryReservation <= 0 {
		t.Fatal("connect-sidecar has no memoryReservation")
	}
	if sc.Memory != nil {
		t.Errorf("connect-sidecar has a hard memory limit of %d MiB: going over it kills an essential container, and with it the worker", *sc.Memory)
	}
	reservation := int64(*sc.MemoryReservation)
	limit, err := parseGoMemLimit(env(sc)["GOMEMLIMIT"])
	if err != nil {
		t.Fatalf("connect-sidecar GOMEMLIMIT: %v", err)
	}
	if limit >= reservation<<20 {
		t.Errorf("GOMEMLIMIT %d MiB is not under the memoryReservation %d MiB: the process outgrows its reservation before the GC works harder", limit>>20, reservation)
	}
	taskMiB, err := strconv.ParseInt(*in.Memory, 10, 64)
	if err != nil {
		t.Fatalf("task memory %q: %v", *in.Memory, err)
	}
	m := regexp.MustCompile(`MaxRAMPercentage=(\d+)`).FindStringSubmatch(string(mustRead(t, "../connect-image/Dockerfile")))
	if m == nil {
		t.Fatal("connect-image/Dockerfile: no -XX:MaxRAMPercentage in KAFKA_HEAP_OPTS")
	}
	pct, _ := strconv.ParseInt(m[1], 10, 64)
	heap := taskMiB * pct / 100
	if need := heap + jvmNonHeapMiB + reservation; need > taskMiB {
		t.Errorf("JVM heap %d MiB + non-heap %d MiB + sidecar %d MiB = %d MiB, over the task's %d MiB", heap, jvmNonHeapMiB, reservation, need, taskMiB)
	}
}

// parseGoMemLimit reads GOMEMLIMIT as the Go runtime does: a number of
// bytes with an optional B, KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	m := regexp.MustCompile(`^(\d+)(B|KiB|MiB|GiB|TiB)?$`).FindStringSubmatch(s)
	if m == nil {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, err
	}
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
	return n << shift, nil
}
