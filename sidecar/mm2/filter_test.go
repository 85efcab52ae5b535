package mm2

import (
	"strings"
	"testing"
)

func TestFiltersAndPolicy(t *testing.T) {
	def, err := TopicFilter(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]bool{"orders": true, "a.internal": false, "a-internal": false, "x.replica": false, "__consumer_offsets": false} {
		if def.Match(topic) != want {
			t.Errorf("default topic filter %q = %v", topic, !want)
		}
	}
	f, err := TopicFilter(map[string]string{"topics": "orders.*, payments", "topics.exclude": "orders-tmp.*"})
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]bool{"orders": true, "orders-eu": true, "orders-tmp1": false, "payments": true, "payments2": false} {
		if f.Match(topic) != want {
			t.Errorf("topic filter %q = %v", topic, !want)
		}
	}
	if f, _ := TopicFilter(map[string]string{"topics": ""}); f.Match("orders") {
		t.Error("an empty topics list matched")
	}
	if f, _ := TopicFilter(map[string]string{"topics.blacklist": "orders"}); f.Match("orders") || !f.Match("a.internal") {
		t.Error("topics.blacklist is not the exclude list")
	}
	if _, err := TopicFilter(map[string]string{"topics.exclude": "(?!x).*"}); err == nil || !strings.HasPrefix(err.Error(), "topics.exclude: ") {
		t.Errorf("java-only regex err = %v", err)
	}
	g, _ := GroupFilter(map[string]string{})
	for group, want := range map[string]bool{"app": true, "console-consumer-1": false, "connect-mm2": false, "__x": false} {
		if g.Match(group) != want {
			t.Errorf("default group filter %q = %v", group, !want)
		}
	}

	tests := []struct {
		conf              map[string]string
		remote, cp        string
		internalHeartbeat string
	}{
		{map[string]string{}, "src.orders", "src.checkpoints.internal", "src.heartbeats"},
		{map[string]string{"replication.policy.class": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"}, "orders", "src.checkpoints.internal", "src.heartbeats"},
		{map[string]string{"replication.policy.separator": "_"}, "src_orders", "src_checkpoints_internal", "src_heartbeats"},
		{map[string]string{"replication.policy.separator": "_", "replication.policy.internal.topic.separator.enabled": "false"}, "src_orders", "src.checkpoints.internal", "src_heartbeats"},
	}
	for _, tc := range tests {
		p, err := PolicyFromConnector(tc.conf)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.RemoteTopic("src", "orders"); got != tc.remote {
			t.Errorf("%v: remote = %q, want %q", tc.conf, got, tc.remote)
		}
		if got := p.CheckpointsTopic("src"); got != tc.cp {
			t.Errorf("%v: checkpoints = %q, want %q", tc.conf, got, tc.cp)
		}
		if got := p.RemoteTopic("src", "heartbeats"); got != tc.internalHeartbeat {
			t.Errorf("%v: heartbeats = %q, want %q", tc.conf, got, tc.internalHeartbeat)
		}
	}
	if _, err := PolicyFromConnector(map[string]string{"replication.policy.class": "com.example.Custom"}); err == nil {
		t.Error("a custom policy class was accepted")
	}
}
