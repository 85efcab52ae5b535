// Package awsfail owns saying why a call to AWS failed, in plain words and
// with the fix: no credentials (naming the sources the SDK's default chain
// tried and the variables to set), an endpoint that does not answer (naming
// it and the region) and access denied (naming the action and resource).
// It neither makes calls nor retries; callers keep their own policies and
// branch on the typed errors it returns.
package awsfail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrAccessDenied is what a *DeniedError is (errors.Is).
var ErrAccessDenied = errors.New("access denied")

// Call names what was asked of AWS, for the messages.
type Call struct {
	// Action is the IAM action, such as s3:GetObject.
	Action string
	// Resource is what it acted on, such as arn:aws:s3:::bucket/key.
	Resource string
	// Region is the AWS region the call was made in; empty is reported as
	// "not set".
	Region string
	// Endpoint is the service endpoint, such as
	// https://s3.eu-west-1.amazonaws.com (S3Endpoint builds S3's).
	Endpoint string
}

// NoCredentialsError is a call that found no credentials to sign with.
// Retrying does not help, so the SDK's retryer is told not to.
type NoCredentialsError struct {
	// Err is the credential chain's own error.
	Err    error
	getenv func(string) string
}

func (e *NoCredentialsError) Error() string { return "no AWS credentials: " + e.explain() }
func (e *NoCredentialsError) Unwrap() error { return e.Err }

// RetryableError tells the SDK's retryer that a retry would fail the same way.
func (e *NoCredentialsError) RetryableError() bool { return false }

// explain names the sources the SDK's default chain looks at, in its
// order, what this environment gives each, and the fix.
func (e *NoCredentialsError) explain() string {
	env := e.getenv
	set := func(k string) bool { return env(k) != "" }
	profile := env("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	var failed string
	switch {
	case set("AWS_ACCESS_KEY_ID") || set("AWS_SECRET_ACCESS_KEY"):
		failed = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"
	case set("AWS_WEB_IDENTITY_TOKEN_FILE"):
		failed = "the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN) gave none: " + cause(e.Err)
	case set("AWS_PROFILE"):
		failed = fmt.Sprintf("profile %q (AWS_PROFILE) gave none: %s", profile, cause(e.Err))
	case set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || set("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
		failed = "the ECS task role endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) gave none: " + cause(e.Err) +
			"; check the task definition's taskRoleArn and that the role trusts ecs-tasks.amazonaws.com"
	case strings.EqualFold(env("AWS_EC2_METADATA_DISABLED"), "true"):
		failed = "EC2 instance metadata is off (AWS_EC2_METADATA_DISABLED=true)"
	default:
		failed = "EC2 instance metadata gave none (not on EC2, or the instance has no role)"
	}
	return fmt.Sprintf("tried AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE, profile %q in ~/.aws/credentials and ~/.aws/config, "+
		"the ECS task role and EC2 instance metadata; %s. On ECS give the task definition a taskRoleArn; elsewhere set AWS_PROFILE, "+
		"or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", profile, failed)
}

// cause is the innermost message of an SDK error, which names the fault
// without the layers of operation names around it.
func cause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// Credentials wraps a credentials provider so that a failure to get
// credentials is a *NoCredentialsError, which the SDK does not retry.
func Credentials(p aws.CredentialsProvider) aws.CredentialsProvider {
	if p == nil {
		return nil
	}
	return credentials{p}
}

type credentials struct{ aws.CredentialsProvider }

func (c credentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	v, err := c.CredentialsProvider.Retrieve(ctx)
	if err != nil && ctx.Err() == nil {
		return v, &NoCredentialsError{Err: err, getenv: os.Getenv}
	}
	return v, err
}

// UnreachableError is a call that got no answer from the endpoint: the
// connection failed or no answer came in time.
type UnreachableError struct {
	// Call is the call that got no answer.
	Call
	// Err is the SDK's error: a failed send, a cancelled wait or a
	// network error.
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("no answer from %s (region %s): %s; check the network route to it (NAT gateway or VPC endpoint), "+
		"the security group's outbound rules, AWS_REGION and any AWS_ENDPOINT_URL_* override", e.Endpoint, regionOr(e.Region), shortCause(e.Err))
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// DeniedError is a call AWS refused for want of permission.
type DeniedError struct {
	// Call is the call AWS refused.
	Call
	// Code is AWS's error code, such as AccessDenied; "HTTP 403" when
	// the answer carried none.
	Code string
	// Err is the SDK's error.
	Err error
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("access denied: %s on %s (%s); grant it to the role the sidecar runs as (the ECS task role)", e.Action, e.Resource, e.Code)
}
func (e *DeniedError) Unwrap() error        { return e.Err }
func (e *DeniedError) Is(target error) bool { return target == ErrAccessDenied }

// RejectedCredentialsError is a call AWS refused because the credentials
// themselves are wrong: an unknown key, a bad secret, an expired token.
type RejectedCredentialsError struct {
	// Call is the call AWS refused.
	Call
	// Code is AWS's error code, such as InvalidAccessKeyId or
	// ExpiredToken.
	Code string
	// Err is the SDK's error.
	Err error
}

func (e *RejectedCredentialsError) Error() string {
	return fmt.Sprintf("AWS rejected the credentials for %s (%s): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN "+
		"or the AWS_PROFILE they come from, and the clock; on ECS leave them unset so that the task role's are used", e.Action, e.Code)
}
func (e *RejectedCredentialsError) Unwrap() error        { return e.Err }
func (e *RejectedCredentialsError) Is(target error) bool { return target == ErrAccessDenied }

// Explain returns err as a *NoCredentialsError, *RejectedCredentialsError,
// *UnreachableError or *DeniedError when it is one of those cases, and err
// itself otherwise.
func Explain(err error, c Call) error {
	if err == nil {
		return nil
	}
	var nc *NoCredentialsError
	if errors.As(err, &nc) {
		return nc
	}
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch {
	case rejected(code):
		return &RejectedCredentialsError{Call: c, Code: code, Err: err}
	case denied(code) || status == 403 && code == "":
		if code == "" {
			code = "HTTP 403"
		}
		return &DeniedError{Call: c, Code: code, Err: err}
	case status == 0 && unreachable(err):
		return &UnreachableError{Call: c, Err: err}
	}
	return err
}

func rejected(code string) bool {
	switch code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "InvalidClientTokenId",
		"UnrecognizedClientException", "RequestExpired", "RequestTimeTooSkewed":
		return true
	}
	return false
}

func denied(code string) bool {
	switch code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled":
		return true
	}
	return false
}

// unreachable tells a request that never got an answer: the send failed,
// or it was cancelled (a deadline) while waiting.
func unreachable(err error) bool {
	var send *smithyhttp.RequestSendError
	var canceled *aws.RequestCanceledError
	var netErr net.Error
	return errors.As(err, &send) || errors.As(err, &canceled) || errors.As(err, &netErr)
}

// shortCause names what the network said, without the SDK's layers.
func shortCause(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return "the name " + dns.Name + " does not resolve"
	case errors.As(err, &op) && op.Op == "dial":
		return "cannot connect: " + cause(op.Err)
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	}
	return cause(err)
}

func regionOr(r string) string {
	if r == "" {
		return "not set"
	}
	return r
}

// Reason is one failed attempt in a few words, for a retry's log line.
func Reason(err error, c Call) string {
	err = Explain(err, c)
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return "no answer from " + ue.Endpoint + ": " + shortCause(ue.Err)
	}
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	switch {
	case errors.As(err, &apiErr) && errors.As(err, &respErr):
		return fmt.Sprintf("%s (HTTP %d)", apiErr.ErrorCode(), respErr.HTTPStatusCode())
	case errors.As(err, &respErr):
		return fmt.Sprintf("HTTP %d", respErr.HTTPStatusCode())
	}
	return err.Error()
}

// S3Endpoint is the endpoint an S3 client of region (and base endpoint
// override, empty for none) sends a request for bucket to.
func S3Endpoint(region, base, bucket string) string {
	if base != "" {
		return strings.TrimSuffix(base, "/") + "/" + bucket
	}
	return fmt.Sprintf("https://%s.s3.%s.amazonaws.com", bucket, region)
}
