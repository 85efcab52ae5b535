package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// maxAttempts is generous because the total deadline, not the attempt
// count, is what bounds a fetch.
const maxAttempts = 20

func (r *Reader) client(ctx context.Context) (*s3.Client, error) {
	r.once.Do(func() {
		// An answer that never starts would otherwise hold the one
		// attempt until the whole deadline is spent; a bound per attempt
		// lets the retryer try again. A BuildableClient keeps the SDK's
		// AWS_CA_BUNDLE handling.
		httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = r.opts.Deadline / 4
		})
		cfg, err := awsconfig.LoadDefaultConfig(ctx,
			awsconfig.WithHTTPClient(httpClient),
			awsconfig.WithRetryer(func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) {
					o.MaxAttempts = maxAttempts
					o.MaxBackoff = r.opts.Deadline / 4
					// Throttling and 5xx during a fleet-wide deploy are the
					// expected case here; do not run out of retry tokens.
					o.RateLimiter = noRateLimit{}
				})
			}))
		if err != nil {
			r.s3Err = fmt.Errorf("load AWS configuration: %w", err)
			return
		}
		if cfg.Region == "" {
			r.s3Err = errors.New("AWS_REGION is not set")
			return
		}
		r.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
			// MinIO, LocalStack and other S3-protocol servers behind an
			// endpoint override want path-style addressing.
			if o.BaseEndpoint != nil {
				o.UsePathStyle = true
			}
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
	})
	return r.s3, r.s3Err
}

type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }

func (r *Reader) getS3(ctx context.Context, u URI) ([]byte, Object, error) {
	c, err := r.client(ctx)
	if err != nil {
		return nil, Object{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.Deadline, errDeadline)
	defer cancel()
	in := &s3.GetObjectInput{Bucket: &u.Bucket, Key: &u.Key}
	if u.VersionID != "" {
		in.VersionId = &u.VersionID
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return nil, Object{}, r.classify(ctx, err)
	}
	defer out.Body.Close()
	if out.ContentLength != nil && *out.ContentLength > r.opts.MaxBytes {
		r.count("error")
		return nil, Object{}, fmt.Errorf("%w: %d bytes, over %d (SIDECAR_MAX_OBJECT_BYTES)", ErrTooLarge, *out.ContentLength, r.opts.MaxBytes)
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, r.opts.MaxBytes+1))
	if err != nil {
		r.count("error")
		if ctx.Err() != nil {
			return nil, Object{}, r.ended(ctx, fmt.Errorf("read body: %w", err))
		}
		return nil, Object{}, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > r.opts.MaxBytes {
		r.count("error")
		return nil, Object{}, fmt.Errorf("%w: over %d bytes (SIDECAR_MAX_OBJECT_BYTES)", ErrTooLarge, r.opts.MaxBytes)
	}
	r.count("ok")
	return b, Object{URI: u.raw, Name: baseName(u.Key), Version: strings.Trim(aws.ToString(out.ETag), `"`), Size: int64(len(b))}, nil
}

func (r *Reader) listS3(ctx context.Context, u URI) ([]Object, error) {
	c, err := r.client(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.Deadline, errDeadline)
	defer cancel()
	// The URI names a "directory", as a file:// one does: without the
	// slash, s3://b/connectors would also list connectors-old/….
	prefix := u.Key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var objs []Object
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &u.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, r.classify(ctx, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			name := strings.TrimPrefix(strings.TrimPrefix(key, prefix), "/")
			if name == "" || strings.HasSuffix(key, "/") || hiddenPath(name) {
				continue
			}
			objs = append(objs, Object{
				URI:     s3URI(u.Bucket, key),
				Name:    name,
				Version: strings.Trim(aws.ToString(o.ETag), `"`),
				Size:    aws.ToInt64(o.Size),
			})
		}
	}
	r.count("ok")
	return objs, nil
}

// classify turns SDK errors into the package's sentinel errors so that
// callers can tell "fix your IAM policy" from "try again later".
func (r *Reader) classify(ctx context.Context, err error) error {
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	status := 0
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket":
		r.count("not_found")
		return fmt.Errorf("%w: bucket does not exist (NoSuchBucket)", ErrNotFound)
	case code == "NoSuchKey" || code == "NoSuchVersion" || status == http.StatusNotFound:
		r.count("not_found")
		return fmt.Errorf("%w: no such object (%s)", ErrNotFound, codeOr(code, "404"))
	case code == "AccessDenied" || status == http.StatusForbidden:
		r.count("denied")
		return fmt.Errorf("%w: check the task role's s3:GetObject/s3:ListBucket grant (%s)", ErrAccessDenied, codeOr(code, "403"))
	}
	r.count("error")
	if ctx.Err() != nil {
		return r.ended(ctx, err)
	}
	return err
}

func (r *Reader) count(outcome string) {
	if r.opts.Fetched != nil {
		r.opts.Fetched(outcome)
	}
}

func codeOr(code, fallback string) string {
	if code != "" {
		return code
	}
	return fallback
}

func baseName(key string) string {
	if i := strings.LastIndex(key, "/"); i >= 0 {
		return key[i+1:]
	}
	return key
}

func hiddenPath(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}
