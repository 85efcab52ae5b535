package mm2

import "testing"

func TestIsConnectorClass(t *testing.T) {
	const full = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
	tests := map[string]bool{
		full:                        true,
		"MirrorSourceConnector":     true,
		"MirrorSource":              true,
		"MirrorCheckpointConnector": false,
		"com.example.MirrorSource":  false,
		"":                          false,
		"mirrorsourceconnector":     false,
	}
	for cls, want := range tests {
		if got := IsConnectorClass(cls, full); got != want {
			t.Errorf("IsConnectorClass(%q) = %v, want %v", cls, got, want)
		}
	}
}
