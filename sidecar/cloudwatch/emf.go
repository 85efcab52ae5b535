package cloudwatch

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// EMF structures, per the CloudWatch Embedded Metric Format specification:
// a root "_aws" member with Timestamp (Unix milliseconds) and
// CloudWatchMetrics directives; every dimension and metric a directive names
// is a member of the root object.
type emfMetric struct {
	Name              string `json:"Name"`
	Unit              string `json:"Unit,omitempty"`
	StorageResolution int    `json:"StorageResolution,omitempty"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// writeEMF writes the datums of one interval as one EMF JSON line.
func writeEMF(w io.Writer, namespace string, dims []types.Dimension, resolution int, at time.Time, datums []Datum) error {
	root := make(map[string]any, len(dims)+len(datums)+1)
	dir := emfDirective{Namespace: namespace, Dimensions: [][]string{{}}}
	for _, d := range dims {
		name := aws.ToString(d.Name)
		dir.Dimensions[0] = append(dir.Dimensions[0], name)
		root[name] = aws.ToString(d.Value)
	}
	for _, d := range datums {
		m := emfMetric{Name: d.Name, Unit: string(d.Unit)}
		if resolution == 1 {
			m.StorageResolution = 1
		}
		dir.Metrics = append(dir.Metrics, m)
		root[d.Name] = d.Value
	}
	root["_aws"] = emfMetadata{Timestamp: at.UnixMilli(), CloudWatchMetrics: []emfDirective{dir}}
	b, err := json.Marshal(root)
	if err != nil {
		return fmt.Errorf("encode emf: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write emf: %w", err)
	}
	return nil
}
