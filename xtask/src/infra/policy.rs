//! Policy documents: the bucket policy deploy-infra puts on the bucket, and the
//! least-privilege IAM policies printed by `cargo xtask iam-policy`.

use serde_json::{Value, json};

use crate::config::RepoConfig;

/// The ARN partition of a region: `aws`, `aws-cn` or `aws-us-gov`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

pub fn bucket_arn(config: &RepoConfig) -> String {
    format!("arn:{}:s3:::{}", partition(&config.region), config.bucket)
}

/// The bucket policy: only this distribution (through its Origin Access Control) may
/// read objects, and every request without TLS is denied.
pub fn bucket_policy(config: &RepoConfig, distribution_arn: &str) -> Value {
    let bucket = bucket_arn(config);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowCloudFrontReadThroughOAC",
                "Effect": "Allow",
                "Principal": { "Service": "cloudfront.amazonaws.com" },
                "Action": "s3:GetObject",
                "Resource": format!("{bucket}/*"),
                "Condition": { "StringEquals": { "AWS:SourceArn": distribution_arn } }
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket.clone(), format!("{bucket}/*")],
                "Condition": { "Bool": { "aws:SecureTransport": "false" } }
            }
        ]
    })
}

/// The same policy document, whatever the key order or whitespace of `text`.
pub fn same_policy(text: &str, desired: &Value) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|actual| &actual == desired)
}

/// `aws:ResourceTag/KEY = VALUE` for every ownership tag: limits an action to our resources.
fn ownership_condition(config: &RepoConfig) -> Value {
    let tags: serde_json::Map<String, Value> = config
        .tags
        .iter()
        .map(|(key, value)| (format!("aws:ResourceTag/{key}"), Value::String(value.clone())))
        .collect();
    json!({ "StringEquals": tags })
}

/// What `cargo xtask deploy-infra` needs: read everything it inspects, create and
/// converge the stack, and delete what it created (rollback).
pub fn deploy_role(config: &RepoConfig) -> Value {
    let p = partition(&config.region);
    let bucket = bucket_arn(config);
    let domain = &config.domain;
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Identity",
                "Effect": "Allow",
                "Action": ["sts:GetCallerIdentity"],
                "Resource": "*"
            },
            {
                "Sid": "Bucket",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:ListBucketVersions",
                    "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:PutBucketTagging",
                    "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
                    "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
                    "s3:GetBucketVersioning", "s3:PutBucketVersioning",
                    "s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls",
                    "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"
                ],
                "Resource": bucket
            },
            {
                "Sid": "BucketObjectsForErrorPageAndRollback",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": format!("{bucket}/*")
            },
            {
                "Sid": "CloudFrontDiscovery",
                "Effect": "Allow",
                "Action": ["cloudfront:ListDistributions", "cloudfront:ListOriginAccessControls"],
                "Resource": "*"
            },
            {
                "Sid": "CloudFrontOwnershipCheck",
                "Effect": "Allow",
                "Action": ["cloudfront:ListTagsForResource", "cloudfront:GetDistribution", "cloudfront:GetDistributionConfig"],
                "Resource": format!("arn:{p}:cloudfront::*:distribution/*")
            },
            {
                "Sid": "CloudFrontCreate",
                "Effect": "Allow",
                "Action": ["cloudfront:CreateDistribution", "cloudfront:TagResource"],
                "Resource": format!("arn:{p}:cloudfront::*:distribution/*"),
                "Condition": { "StringEquals": request_tags(config) }
            },
            {
                "Sid": "CloudFrontOwnedDistribution",
                "Effect": "Allow",
                "Action": ["cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution"],
                "Resource": format!("arn:{p}:cloudfront::*:distribution/*"),
                "Condition": ownership_condition(config)
            },
            {
                "Sid": "CloudFrontOriginAccessControl",
                "Effect": "Allow",
                "Action": [
                    "cloudfront:CreateOriginAccessControl", "cloudfront:GetOriginAccessControl",
                    "cloudfront:UpdateOriginAccessControl", "cloudfront:DeleteOriginAccessControl"
                ],
                "Resource": format!("arn:{p}:cloudfront::*:origin-access-control/*")
            },
            {
                "Sid": "CertificateDiscovery",
                "Effect": "Allow",
                "Action": ["acm:ListCertificates", "acm:RequestCertificate"],
                "Resource": "*"
            },
            {
                "Sid": "Certificate",
                "Effect": "Allow",
                "Action": ["acm:DescribeCertificate", "acm:ListTagsForCertificate", "acm:AddTagsToCertificate", "acm:DeleteCertificate"],
                "Resource": format!("arn:{p}:acm:us-east-1:*:certificate/*")
            },
            {
                "Sid": "DnsDiscovery",
                "Effect": "Allow",
                "Action": ["route53:ListHostedZonesByName"],
                "Resource": "*"
            },
            {
                "Sid": "DnsRead",
                "Effect": "Allow",
                "Action": ["route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:GetChange"],
                "Resource": [format!("arn:{p}:route53:::hostedzone/*"), format!("arn:{p}:route53:::change/*")]
            },
            {
                "Sid": "DnsRecordsOfTheDomainOnly",
                "Effect": "Allow",
                "Action": ["route53:ChangeResourceRecordSets"],
                "Resource": format!("arn:{p}:route53:::hostedzone/*"),
                "Condition": {
                    "ForAllValues:StringLike": {
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [domain.clone(), format!("_*.{domain}")]
                    }
                }
            }
        ]
    })
}

/// What `cargo xtask deploy-infra --dry-run` needs: every read of the preflight and
/// the plan, no write at all (for the pull-request plan job).
pub fn plan_role(config: &RepoConfig) -> Value {
    let p = partition(&config.region);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadEverythingThePlanLooksAt",
                "Effect": "Allow",
                "Action": [
                    "sts:GetCallerIdentity",
                    "cloudfront:ListDistributions", "cloudfront:ListOriginAccessControls",
                    "acm:ListCertificates", "route53:ListHostedZonesByName"
                ],
                "Resource": "*"
            },
            {
                "Sid": "BucketReads",
                "Effect": "Allow",
                "Action": [
                    "s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:GetBucketPublicAccessBlock",
                    "s3:GetEncryptionConfiguration", "s3:GetBucketVersioning", "s3:GetBucketOwnershipControls",
                    "s3:GetBucketPolicy"
                ],
                "Resource": bucket_arn(config)
            },
            {
                "Sid": "CloudFrontReads",
                "Effect": "Allow",
                "Action": [
                    "cloudfront:ListTagsForResource", "cloudfront:GetDistribution", "cloudfront:GetDistributionConfig",
                    "cloudfront:GetOriginAccessControl"
                ],
                "Resource": [
                    format!("arn:{p}:cloudfront::*:distribution/*"),
                    format!("arn:{p}:cloudfront::*:origin-access-control/*")
                ]
            },
            {
                "Sid": "CertificateReads",
                "Effect": "Allow",
                "Action": ["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
                "Resource": format!("arn:{p}:acm:us-east-1:*:certificate/*")
            },
            {
                "Sid": "DnsReads",
                "Effect": "Allow",
                "Action": ["route53:GetHostedZone", "route53:ListResourceRecordSets"],
                "Resource": format!("arn:{p}:route53:::hostedzone/*")
            }
        ]
    })
}

/// `aws:RequestTag/KEY = VALUE`: a distribution may only be created with our tags.
fn request_tags(config: &RepoConfig) -> Value {
    let tags: serde_json::Map<String, Value> = config
        .tags
        .iter()
        .map(|(key, value)| (format!("aws:RequestTag/{key}"), Value::String(value.clone())))
        .collect();
    Value::Object(tags)
}

/// What `cargo xtask release-chart` needs: objects in the bucket, invalidations of our
/// distribution, and the reads that find that distribution.
pub fn release_role(config: &RepoConfig) -> Value {
    let p = partition(&config.region);
    let bucket = bucket_arn(config);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ChartObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": format!("{bucket}/*")
            },
            {
                "Sid": "ChartListing",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": bucket
            },
            {
                "Sid": "InvalidateOurDistribution",
                "Effect": "Allow",
                "Action": ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                "Resource": format!("arn:{p}:cloudfront::*:distribution/*"),
                "Condition": ownership_condition(config)
            },
            {
                "Sid": "FindOurDistribution",
                "Effect": "Allow",
                "Action": ["cloudfront:ListDistributions", "cloudfront:ListTagsForResource", "tag:GetResources"],
                "Resource": "*"
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RepoConfig {
        RepoConfig::load(&crate::project::default_config_path()).unwrap()
    }

    #[test]
    fn bucket_policy_names_the_distribution_and_denies_plain_http() {
        let policy = bucket_policy(&config(), "arn:aws:cloudfront::123456789012:distribution/E1");
        let text = policy.to_string();
        assert!(text.contains("\"AWS:SourceArn\":\"arn:aws:cloudfront::123456789012:distribution/E1\""));
        assert!(text.contains("\"aws:SecureTransport\":\"false\""));
        assert!(text.contains("\"Service\":\"cloudfront.amazonaws.com\""));
        let reordered = serde_json::to_string_pretty(&policy).unwrap();
        assert!(same_policy(&reordered, &policy));
        assert!(!same_policy("{}", &policy));
    }

    #[test]
    fn release_role_is_limited_to_the_bucket_and_our_tags() {
        let config = config();
        let text = release_role(&config).to_string();
        assert!(text.contains("arn:aws:s3:::kube9-charts/*"));
        assert!(text.contains("aws:ResourceTag/managed-by"));
        assert!(!text.contains("s3:DeleteObject"), "releases never delete");
        assert!(!text.contains("\"s3:*\""));
    }

    #[test]
    fn plan_role_only_reads() {
        let text = plan_role(&config()).to_string();
        for write in ["Create", "Put", "Update", "Delete", "Change", "Request", "Tag\"", "TagResource"] {
            assert!(!text.contains(&format!(":{write}")), "plan role grants a {write} action: {text}");
        }
        assert!(text.contains("s3:GetBucketPolicy"));
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
