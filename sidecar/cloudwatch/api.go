package cloudwatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/mm2-fargate/mm2-ecs/sidecar/awsfail"
)

// NewAPI returns a CloudWatch client from the SDK's default chain: the task
// role, AWS_REGION, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_CLOUDWATCH for
// an endpoint override. The SDK's own retries are off: the publisher retries
// with its buffer in view, so an outage never stacks two retry loops. Its
// errors say in plain words what failed (awsfail) and keep the SDK's error
// underneath for the publisher to classify.
func NewAPI(ctx context.Context) (API, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("AWS_REGION is not set: SIDECAR_CLOUDWATCH_MODE=api needs the region to publish to, such as AWS_REGION=eu-west-1")
	}
	cfg.Credentials = awsfail.Credentials(cfg.Credentials)
	call := awsfail.Call{Action: "cloudwatch:PutMetricData", Region: cfg.Region,
		Endpoint: fmt.Sprintf("https://monitoring.%s.amazonaws.com", cfg.Region)}
	client := cw.NewFromConfig(cfg, func(o *cw.Options) {
		o.RetryMaxAttempts = 1
		if o.BaseEndpoint != nil {
			call.Endpoint = aws.ToString(o.BaseEndpoint)
		}
	})
	return explained{client, call}, nil
}

type explained struct {
	c    *cw.Client
	call awsfail.Call
}

func (e explained) PutMetricData(ctx context.Context, in *cw.PutMetricDataInput, optFns ...func(*cw.Options)) (*cw.PutMetricDataOutput, error) {
	out, err := e.c.PutMetricData(ctx, in, optFns...)
	if err != nil {
		call := e.call
		call.Resource = "namespace " + aws.ToString(in.Namespace)
		return nil, awsfail.Explain(err, call)
	}
	return out, nil
}
