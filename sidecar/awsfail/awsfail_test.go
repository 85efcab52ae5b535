package awsfail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestNoCredentialsNamesSourcesAndFix(t *testing.T) {
	imds := errors.New("no EC2 IMDS role found, operation error ec2imds: GetMetadata, canceled, context deadline exceeded")
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set, off EC2", nil, []string{`profile "default"`, "EC2 instance metadata gave none (not on EC2, or the instance has no role)"}},
		{"metadata off", map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}, []string{"EC2 instance metadata is off (AWS_EC2_METADATA_DISABLED=true)"}},
		{"half a key pair", map[string]string{"AWS_ACCESS_KEY_ID": "AKID"}, []string{"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"}},
		{"profile", map[string]string{"AWS_PROFILE": "ops"}, []string{`profile "ops" (AWS_PROFILE) gave none: context deadline exceeded`}},
		{"ECS without a role", map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"},
			[]string{"the ECS task role endpoint", "trusts ecs-tasks.amazonaws.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &NoCredentialsError{Err: fmt.Errorf("x: %w", context.DeadlineExceeded), getenv: func(k string) string { return tt.env[k] }}
			if tt.name == "nothing set, off EC2" {
				e.Err = imds
			}
			msg := e.Error()
			for _, w := range append(tt.want, "no AWS credentials: tried AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", "taskRoleArn") {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "ec2imds") {
				t.Errorf("%q repeats the SDK's words", msg)
			}
		})
	}
}

// The SDK's retryer does not retry a missing credential.
func TestNoCredentialsIsNotRetried(t *testing.T) {
	err := fmt.Errorf("get identity: %w", fmt.Errorf("failed to refresh cached credentials, %w",
		&NoCredentialsError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}, getenv: func(string) string { return "" }}))
	if retry.NewStandard().IsErrorRetryable(err) {
		t.Error("retryable")
	}
}

func TestExplain(t *testing.T) {
	call := Call{Action: "cloudwatch:PutMetricData", Resource: "namespace MM2/Connect", Region: "eu-west-1", Endpoint: "https://monitoring.eu-west-1.amazonaws.com"}
	dial := &smithy.OperationError{ServiceID: "CloudWatch", OperationName: "PutMetricData",
		Err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}}
	dns := &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: &net.DNSError{Name: "monitoring.eu-west-1.amazonaws.com", Err: "no such host"}}}
	canceled := &smithy.OperationError{Err: &aws.RequestCanceledError{Err: context.DeadlineExceeded}}
	denied := &smithy.OperationError{Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: arn:aws:sts::1:assumed-role/x is not authorized"}}
	other := &smithy.OperationError{Err: &smithy.GenericAPIError{Code: "InvalidParameterValue"}}
	badKey := &smithy.OperationError{Err: &smithy.GenericAPIError{Code: "InvalidAccessKeyId", Message: "The AWS Access Key Id you provided does not exist in our records."}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"connection refused", dial, "no answer from https://monitoring.eu-west-1.amazonaws.com (region eu-west-1): cannot connect: connect: connection refused; check the network route"},
		{"name does not resolve", dns, "the name monitoring.eu-west-1.amazonaws.com does not resolve"},
		{"deadline", canceled, "(region eu-west-1): no answer in time"},
		{"denied", denied, "access denied: cloudwatch:PutMetricData on namespace MM2/Connect (AccessDenied); grant it to the role"},
		{"other", other, "InvalidParameterValue"},
		{"unknown key", badKey, "AWS rejected the credentials for cloudwatch:PutMetricData (InvalidAccessKeyId): check AWS_ACCESS_KEY_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Explain(tt.err, call)
			if !strings.Contains(got.Error(), tt.want) {
				t.Errorf("Explain = %q, want %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Error("the SDK's error is not kept for callers that branch on it")
			}
		})
	}
	for _, err := range []error{denied, badKey} {
		if !errors.Is(Explain(err, call), ErrAccessDenied) {
			t.Errorf("%v is not ErrAccessDenied", err)
		}
	}
}

func TestS3Endpoint(t *testing.T) {
	if got := S3Endpoint("eu-west-1", "", "cfg"); got != "https://cfg.s3.eu-west-1.amazonaws.com" {
		t.Errorf("AWS: %s", got)
	}
	if got := S3Endpoint("us-east-1", "http://127.0.0.1:9000/", "cfg"); got != "http://127.0.0.1:9000/cfg" {
		t.Errorf("override: %s", got)
	}
}
