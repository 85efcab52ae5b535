package cloudwatch

import (
	"context"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// NewAPI returns a CloudWatch client from the SDK's default chain: the task
// role, AWS_REGION, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_CLOUDWATCH for
// an endpoint override. The SDK's own retries are off: the publisher retries
// with its buffer in view, so an outage never stacks two retry loops.
func NewAPI(ctx context.Context) (*cw.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	return cw.NewFromConfig(cfg, func(o *cw.Options) {
		o.RetryMaxAttempts = 1
	}), nil
}
