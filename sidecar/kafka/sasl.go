package kafka

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/twmb/franz-go/pkg/sasl"
	saslaws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// MSK IAM class names an MM2 config uses (aws-msk-iam-auth).
const (
	mskIAMLoginModule       = "software.amazon.msk.auth.iam.IAMLoginModule"
	mskIAMOAuthHandlerClass = "software.amazon.msk.auth.iam.IAMOAuthBearerLoginCallbackHandler"
)

// saslMechanism builds the franz-go mechanism for sasl.mechanism:
//   - PLAIN, SCRAM-SHA-256, SCRAM-SHA-512: user and password from
//     sasl.jaas.config (PlainLoginModule / ScramLoginModule);
//   - AWS_MSK_IAM (aws-msk-iam-auth's IAMLoginModule): franz-go signs the
//     MSK IAM payload itself with credentials from the AWS default chain
//     (or the module's awsProfileName / awsRoleArn options);
//   - OAUTHBEARER with IAMOAuthBearerLoginCallbackHandler: the token comes
//     from aws-msk-iam-sasl-signer-go with the same credentials.
//
// Anything else (GSSAPI, OAUTHBEARER against another provider) is refused
// with the key named.
func (c Cluster) saslMechanism(ctx context.Context) (sasl.Mechanism, error) {
	mechKey := c.key("sasl.mechanism")
	jaasKey := c.key("sasl.jaas.config")
	var opts map[string]string
	var module string
	if raw := strings.TrimSpace(c.props["sasl.jaas.config"]); raw != "" {
		entries, err := ParseJAAS(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", jaasKey, err)
		}
		if len(entries) != 1 {
			return nil, fmt.Errorf("%s: exactly one login module expected, found %d", jaasKey, len(entries))
		}
		module, opts = entries[0].LoginModule, entries[0].Options
	}
	userPass := func(wantModule string) (string, string, error) {
		if module == "" {
			return "", "", fmt.Errorf("%s: not set (sasl.mechanism %s needs a %s with username and password)", jaasKey, c.SASLMechanism, wantModule)
		}
		if !strings.HasSuffix(module, "."+wantModule) && module != wantModule {
			return "", "", fmt.Errorf("%s: login module %s does not fit sasl.mechanism %s (want %s)", jaasKey, module, c.SASLMechanism, wantModule)
		}
		u, p := opts["username"], opts["password"]
		if u == "" || p == "" {
			return "", "", fmt.Errorf("%s: username and password options are required", jaasKey)
		}
		return u, p, nil
	}
	switch c.SASLMechanism {
	case "PLAIN":
		u, p, err := userPass("PlainLoginModule")
		if err != nil {
			return nil, err
		}
		return plain.Auth{User: u, Pass: p}.AsMechanism(), nil
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		u, p, err := userPass("ScramLoginModule")
		if err != nil {
			return nil, err
		}
		a := scram.Auth{User: u, Pass: p}
		if c.SASLMechanism == "SCRAM-SHA-256" {
			return a.AsSha256Mechanism(), nil
		}
		return a.AsSha512Mechanism(), nil
	case "AWS_MSK_IAM":
		if c.SecurityProtocol != SASLSSL {
			return nil, fmt.Errorf("%s=AWS_MSK_IAM needs security.protocol SASL_SSL, not %s", mechKey, c.SecurityProtocol)
		}
		if module != "" && module != mskIAMLoginModule {
			return nil, fmt.Errorf("%s: login module %s does not fit AWS_MSK_IAM (want %s)", jaasKey, module, mskIAMLoginModule)
		}
		creds, _, err := awsCredentials(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("%s=AWS_MSK_IAM: %w", mechKey, err)
		}
		return saslaws.ManagedStreamingIAM(func(ctx context.Context) (saslaws.Auth, error) {
			v, err := creds.Retrieve(ctx)
			if err != nil {
				return saslaws.Auth{}, fmt.Errorf("aws credentials: %w", err)
			}
			return saslaws.Auth{AccessKey: v.AccessKeyID, SecretKey: v.SecretAccessKey, SessionToken: v.SessionToken}, nil
		}), nil
	case "OAUTHBEARER":
		handlerKey := c.key("sasl.login.callback.handler.class")
		if strings.TrimSpace(c.props["sasl.login.callback.handler.class"]) != mskIAMOAuthHandlerClass {
			return nil, fmt.Errorf("%s=OAUTHBEARER is supported only for MSK IAM: set %s=%s", mechKey, handlerKey, mskIAMOAuthHandlerClass)
		}
		if c.SecurityProtocol != SASLSSL {
			return nil, fmt.Errorf("%s=OAUTHBEARER (MSK IAM) needs security.protocol SASL_SSL, not %s", mechKey, c.SecurityProtocol)
		}
		creds, region, err := awsCredentials(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("%s=OAUTHBEARER: %w", mechKey, err)
		}
		if r := regionFromHost(c.BootstrapServers[0]); r != "" {
			region = r
		}
		if region == "" {
			return nil, fmt.Errorf("%s=OAUTHBEARER: AWS region unknown: set AWS_REGION", mechKey)
		}
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			tok, _, err := signer.GenerateAuthTokenFromCredentialsProvider(ctx, region, creds)
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("msk iam token: %w", err)
			}
			return oauth.Auth{Token: tok}, nil
		}), nil
	case "GSSAPI":
		return nil, fmt.Errorf("%s: GSSAPI (Kerberos) is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, AWS_MSK_IAM or OAUTHBEARER with MSK IAM", mechKey)
	default:
		return nil, fmt.Errorf("%s=%q: not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, AWS_MSK_IAM or OAUTHBEARER with MSK IAM", mechKey, c.SASLMechanism)
	}
}

// awsCredentials loads the AWS default credential chain (the ECS task role
// in production), honouring aws-msk-iam-auth's awsProfileName and
// awsRoleArn / awsRoleSessionName login-module options.
func awsCredentials(ctx context.Context, opts map[string]string) (aws.CredentialsProvider, string, error) {
	var lo []func(*awsconfig.LoadOptions) error
	if p := opts["awsProfileName"]; p != "" {
		lo = append(lo, awsconfig.WithSharedConfigProfile(p))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, "", fmt.Errorf("load aws config: %w", err)
	}
	creds := cfg.Credentials
	if arn := opts["awsRoleArn"]; arn != "" {
		session := opts["awsRoleSessionName"]
		if session == "" {
			session = "connect-sidecar"
		}
		creds = stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), arn, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = session
		})
	}
	if creds == nil {
		return nil, "", fmt.Errorf("no aws credentials found")
	}
	return aws.NewCredentialsCache(creds), cfg.Region, nil
}

// regionFromHost reads the region of an MSK broker name,
// b-1.name.id.c2.kafka.<region>.amazonaws.com.
func regionFromHost(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	parts := strings.Split(host, ".")
	for i := 0; i+2 < len(parts); i++ {
		if (parts[i] == "kafka" || parts[i] == "kafka-serverless") && strings.HasPrefix(parts[i+2], "amazonaws") {
			return parts[i+1]
		}
	}
	return ""
}
