package connectimage_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"
)

// pomProperties reads the <properties> of runtime/pom.xml.
func pomProperties(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("runtime", "pom.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var pom struct {
		Properties struct {
			Any []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"properties"`
	}
	if err := xml.Unmarshal(b, &pom); err != nil {
		t.Fatalf("runtime/pom.xml: %v", err)
	}
	out := map[string]string{}
	for _, p := range pom.Properties.Any {
		out[p.XMLName.Local] = strings.TrimSpace(p.Value)
	}
	return out
}

// dockerArgs reads the ARG defaults of the Dockerfile (first stage wins).
func dockerArgs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "ARG ")
		if !ok {
			continue
		}
		if k, v, ok := strings.Cut(rest, "="); ok {
			if _, seen := out[k]; !seen {
				out[k] = v
			}
		}
	}
	return out
}

// TestRuntimeVersionsMatchImage keeps one source of truth: the jars the
// integration suite runs are the versions the image ships.
func TestRuntimeVersionsMatchImage(t *testing.T) {
	pom, args := pomProperties(t), dockerArgs(t)
	for _, pair := range [][2]string{
		{"kafka.version", "KAFKA_VERSION"},
		{"jmx-exporter.version", "JMX_EXPORTER_VERSION"},
		{"msk-iam-auth.version", "MSK_IAM_AUTH_VERSION"},
	} {
		p, d := pom[pair[0]], args[pair[1]]
		if p == "" || d == "" || p != d {
			t.Errorf("runtime/pom.xml %s = %q, Dockerfile %s = %q: they must agree", pair[0], p, pair[1], d)
		}
	}
	if !strings.HasPrefix(pom["kafka.mirror-client.version"], strings.Join(strings.Split(pom["kafka.version"], ".")[:2], ".")+".") {
		t.Errorf("connect-mirror-client %q is not of Kafka %q's line", pom["kafka.mirror-client.version"], pom["kafka.version"])
	}
}

// TestMavenCentralConfirmsImageChecksums hashes the jars Maven Central
// served for runtime/pom.xml that are the very files the image downloads
// (the JMX exporter agent, the aws-msk-iam-auth -all jar) and compares them
// with the Dockerfile's pins. Kafka's .tgz is not on Maven Central.
func TestMavenCentralConfirmsImageChecksums(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	rt := externaltool.KafkaRuntime(t, repo)
	args := dockerArgs(t)
	for _, c := range []struct{ file, arg string }{
		{rt.Agent, "JMX_EXPORTER_SHA256"},
		{filepath.Join(rt.Libs, "aws-msk-iam-auth-"+args["MSK_IAM_AUTH_VERSION"]+"-all.jar"), "MSK_IAM_AUTH_SHA256"},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != args[c.arg] {
			t.Errorf("%s from Maven Central has SHA-256 %s, the Dockerfile pins %s = %s", filepath.Base(c.file), got, c.arg, args[c.arg])
		} else {
			t.Logf("%s: Maven Central's file matches the Dockerfile's %s", filepath.Base(c.file), c.arg)
		}
	}
}
