//! Policy documents: the bucket policy deploy-infra puts on the bucket, and the
//! least-privilege IAM policies printed by `cargo xtask iam-policy`.

use serde_json::{Value, json};

use super::desired::ERROR_PAGE_KEY;
use crate::config::{CLOUDFRONT_CERT_REGION, RepoConfig};

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

/// `{PREFIX}KEY = VALUE` for every ownership tag (`aws:ResourceTag/`, `aws:RequestTag/`).
fn tag_map(config: &RepoConfig, prefix: &str) -> serde_json::Map<String, Value> {
    config.tags.iter().map(|(key, value)| (format!("{prefix}{key}"), Value::String(value.clone()))).collect()
}

/// The resource already carries every ownership tag: limits an action to our resources.
fn owned(config: &RepoConfig) -> Value {
    json!({ "StringEquals": tag_map(config, "aws:ResourceTag/") })
}

/// Tags in the request are exactly ours: every ownership tag with its value, no other key.
fn tagging_with_our_tags(config: &RepoConfig) -> serde_json::Map<String, Value> {
    let keys: Vec<&String> = config.tags.keys().collect();
    let mut condition = serde_json::Map::new();
    condition.insert("StringEquals".into(), Value::Object(tag_map(config, "aws:RequestTag/")));
    condition.insert("ForAllValues:StringEquals".into(), json!({ "aws:TagKeys": keys }));
    condition
}

/// Tagging a resource as it is created: the request carries exactly our tags and the
/// resource carries none of our tag keys yet. A resource tagged for anyone else (any
/// value under one of our keys) can never be re-tagged as ours.
fn tagging_a_new_resource(config: &RepoConfig) -> Value {
    let mut condition = tagging_with_our_tags(config);
    let untagged: serde_json::Map<String, Value> =
        config.tags.keys().map(|key| (format!("aws:ResourceTag/{key}"), Value::String("true".into()))).collect();
    condition.insert("Null".into(), Value::Object(untagged));
    Value::Object(condition)
}

/// The List* and identity calls that find the stack (deploy and plan alike): they have
/// no resource type, so they take `"Resource": "*"`.
fn discovery() -> Value {
    json!({
        "Sid": "Discovery",
        "Effect": "Allow",
        "Action": [
            "sts:GetCallerIdentity", "cloudfront:ListDistributions", "cloudfront:ListOriginAccessControls",
            "acm:ListCertificates", "route53:ListHostedZonesByName"
        ],
        "Resource": "*"
    })
}

/// The Route53 record changes deploy-infra makes: A/AAAA aliases of the domain and the
/// ACM validation CNAME (`_….domain`), by UPSERT (apply) and DELETE (rollback) only.
pub const RECORD_TYPES: &[&str] = &["A", "AAAA", "CNAME"];
pub const RECORD_ACTIONS: &[&str] = &["UPSERT", "DELETE"];

/// What `cargo xtask deploy-infra` needs: read everything it inspects, create and
/// converge the stack, and delete what it created (rollback). Actions that have no
/// resource type in the IAM Service Authorization Reference (the List* discovery calls,
/// CreateOriginAccessControl, CreateDistribution, RequestCertificate) take
/// `"Resource": "*"`: an ARN there never matches.
pub fn deploy_role(config: &RepoConfig) -> Value {
    let p = partition(&config.region);
    let bucket = bucket_arn(config);
    let domain = config.domain.trim_end_matches('.').to_ascii_lowercase();
    let distributions = format!("arn:{p}:cloudfront::*:distribution/*");
    let certificates = format!("arn:{p}:acm:{CLOUDFRONT_CERT_REGION}:*:certificate/*");
    let mut request_certificate = tagging_with_our_tags(config);
    request_certificate.insert(
        "ForAllValues:StringEquals".into(),
        json!({ "aws:TagKeys": config.tags.keys().collect::<Vec<_>>(), "acm:DomainNames": [domain.clone()] }),
    );
    request_certificate.insert("StringEquals".into(), {
        let mut equals = tag_map(config, "aws:RequestTag/");
        equals.insert("acm:ValidationMethod".into(), Value::String("DNS".into()));
        Value::Object(equals)
    });
    json!({
        "Version": "2012-10-17",
        "Statement": [
            discovery(),
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
                "Sid": "ErrorPage",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": format!("{bucket}/{ERROR_PAGE_KEY}")
            },
            {
                "Sid": "RollbackEmptiesABucketThisRunCreated",
                "Effect": "Allow",
                // Rollback deletes every version by its id (the bucket is versioned).
                "Action": ["s3:DeleteObjectVersion"],
                "Resource": format!("{bucket}/*")
            },
            {
                "Sid": "CloudFrontReadsForTheOwnershipCheck",
                "Effect": "Allow",
                "Action": ["cloudfront:ListTagsForResource", "cloudfront:GetDistribution", "cloudfront:GetDistributionConfig"],
                "Resource": distributions.clone()
            },
            {
                "Sid": "CloudFrontCreateOnlyWithOurTags",
                "Effect": "Allow",
                "Action": ["cloudfront:CreateDistribution"],
                "Resource": "*",
                "Condition": Value::Object(tagging_with_our_tags(config))
            },
            {
                "Sid": "CloudFrontTagOnlyANewDistribution",
                "Effect": "Allow",
                "Action": ["cloudfront:TagResource"],
                "Resource": distributions.clone(),
                "Condition": tagging_a_new_resource(config)
            },
            {
                "Sid": "CloudFrontOwnedDistribution",
                "Effect": "Allow",
                "Action": ["cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution"],
                "Resource": distributions,
                "Condition": owned(config)
            },
            {
                "Sid": "OriginAccessControlCreate",
                "Effect": "Allow",
                "Action": ["cloudfront:CreateOriginAccessControl"],
                "Resource": "*"
            },
            {
                "Sid": "OriginAccessControl",
                "Effect": "Allow",
                "Action": [
                    "cloudfront:GetOriginAccessControl", "cloudfront:UpdateOriginAccessControl",
                    "cloudfront:DeleteOriginAccessControl"
                ],
                "Resource": format!("arn:{p}:cloudfront::*:origin-access-control/*")
            },
            {
                "Sid": "CertificateRequestOnlyForTheDomainWithOurTags",
                "Effect": "Allow",
                "Action": ["acm:RequestCertificate"],
                "Resource": "*",
                "Condition": Value::Object(request_certificate)
            },
            {
                "Sid": "CertificateTagOnlyANewCertificate",
                "Effect": "Allow",
                "Action": ["acm:AddTagsToCertificate"],
                "Resource": certificates.clone(),
                "Condition": tagging_a_new_resource(config)
            },
            {
                "Sid": "CertificateReadsForTheOwnershipCheck",
                "Effect": "Allow",
                "Action": ["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
                "Resource": certificates.clone()
            },
            {
                "Sid": "CertificateDeleteOnlyOurs",
                "Effect": "Allow",
                "Action": ["acm:DeleteCertificate"],
                "Resource": certificates,
                "Condition": owned(config)
            },
            {
                "Sid": "DnsRead",
                "Effect": "Allow",
                "Action": ["route53:ListResourceRecordSets", "route53:GetChange"],
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
                    },
                    "ForAllValues:StringEquals": {
                        "route53:ChangeResourceRecordSetsRecordTypes": RECORD_TYPES,
                        "route53:ChangeResourceRecordSetsActions": RECORD_ACTIONS
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
            discovery(),
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
                "Action": ["cloudfront:ListTagsForResource", "cloudfront:GetDistribution", "cloudfront:GetOriginAccessControl"],
                "Resource": [
                    format!("arn:{p}:cloudfront::*:distribution/*"),
                    format!("arn:{p}:cloudfront::*:origin-access-control/*")
                ]
            },
            {
                "Sid": "CertificateReads",
                "Effect": "Allow",
                "Action": ["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
                "Resource": format!("arn:{p}:acm:{CLOUDFRONT_CERT_REGION}:*:certificate/*")
            },
            {
                "Sid": "DnsReads",
                "Effect": "Allow",
                "Action": ["route53:ListResourceRecordSets"],
                "Resource": format!("arn:{p}:route53:::hostedzone/*")
            }
        ]
    })
}

/// What `cargo xtask release-chart`, `reindex` and `yank` need: objects in the bucket (read,
/// write; never delete), invalidations of our distribution, and the reads that find it.
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
                "Sid": "FindOurDistribution",
                "Effect": "Allow",
                "Action": ["cloudfront:ListDistributions"],
                "Resource": "*"
            },
            {
                "Sid": "ReadDistributionTags",
                "Effect": "Allow",
                "Action": ["cloudfront:ListTagsForResource"],
                "Resource": format!("arn:{p}:cloudfront::*:distribution/*")
            },
            {
                "Sid": "InvalidateOurDistribution",
                "Effect": "Allow",
                "Action": ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                "Resource": format!("arn:{p}:cloudfront::*:distribution/*"),
                "Condition": owned(config)
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
