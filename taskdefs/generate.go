// Package taskdefs holds the ECS task definitions, IAM policies, scaling
// policy and CloudFormation stacks of the deployment as data files; its Go
// code is only their tests and the directive that writes the generated parts
// of stack.yaml. Rendering for the AWS CLI is scripts/render-taskdefs.sh.
package taskdefs

//go:generate go run ./stackgen -dir .
