// Lambda code from the Rust build, or a clearly failing placeholder with a synth warning.
import * as path from 'path';
import { Annotations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { artifactBuilt } from './config';

const NOT_BUILT = path.join(__dirname, '..', 'assets', 'not-built');

export function rustCode(scope: Construct, dir: string): lambda.Code {
  if (artifactBuilt(dir)) {
    return lambda.Code.fromAsset(dir);
  }
  Annotations.of(scope).addWarningV2(
    'xray-archive:artifact-missing',
    `${dir}/bootstrap not found: deploying a placeholder that fails every invocation. Build the Lambda first (README, "Deploy").`,
  );
  return lambda.Code.fromAsset(NOT_BUILT);
}
