//! IAM authorization of recorded AWS requests: every request the infra proxy saw is
//! turned into the IAM action(s) AWS authorizes it as, with the resource ARN and the
//! request's condition keys, and evaluated by `@cloud-copilot/iam-simulate` (AWS's
//! authorization data; provisioned by the harness) against the policy `cargo xtask
//! iam-policy` prints for the role that sent it.
//!
//! [`authorize`] is the mapping table. A request it does not know is an error, so a
//! new SDK call without a mapping (and a policy change) fails the test.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// The account moto answers with.
pub const ACCOUNT: &str = "123456789012";

/// One request as the proxy saw it, and the role that sent it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub role: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn has_query(&self, key: &str) -> bool {
        self.query.split('&').any(|kv| kv == key || kv.starts_with(&format!("{key}=")))
    }

    fn query_value(&self, key: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| kv.strip_prefix(&format!("{key}="))).map(percent_decode)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One IAM authorization: what AWS evaluates for (part of) a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Authz {
    pub role: String,
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Value>,
}

impl std::fmt::Display for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} on {} {}", self.role, self.action, self.resource, Value::from_iter(self.context.clone()))
    }
}

pub fn authz(role: &str, action: &str, resource: &str, context: &[(&str, Value)]) -> Authz {
    Authz {
        role: role.to_string(),
        action: action.to_string(),
        resource: resource.to_string(),
        context: context.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The text of every `<name>…</name>` element, in order (the bodies here are flat
/// enough that no XML parser is needed).
fn elements(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    found
}

/// `aws:RequestTag/K` and `aws:TagKeys` of the tags a request sets.
fn request_tags(tags: &[(String, String)]) -> Vec<(String, Value)> {
    let mut context: Vec<(String, Value)> =
        tags.iter().map(|(k, v)| (format!("aws:RequestTag/{k}"), Value::String(v.clone()))).collect();
    context.push(("aws:TagKeys".into(), tags.iter().map(|(k, _)| Value::String(k.clone())).collect::<Value>()));
    context
}

/// `aws:ResourceTag/K` of a resource carrying `tags`.
fn resource_tags(tags: &[(String, String)]) -> Vec<(String, Value)> {
    tags.iter().map(|(k, v)| (format!("aws:ResourceTag/{k}"), Value::String(v.clone()))).collect()
}

/// The IAM authorizations of one recorded request: (operation, authorizations). The
/// tags of existing distributions and certificates are `owner_tags` (the recorded runs
/// only ever touch resources of the stack under test). `Err` names a request this table
/// does not know.
pub fn authorize(request: &Recorded, owner_tags: &[(String, String)]) -> Result<(String, Vec<Authz>), String> {
    let role = request.role.as_str();
    let one = |operation: &str, action: &str, resource: String, context: Vec<(String, Value)>| {
        Ok((
            operation.to_string(),
            vec![Authz { role: role.into(), action: action.into(), resource, context: context.into_iter().collect() }],
        ))
    };
    let unknown = || Err(format!("no IAM mapping for {} {}?{}", request.method, request.path, request.query));
    let owned = || resource_tags(owner_tags);

    // JSON protocol (ACM): the operation is in X-Amz-Target.
    if let Some(target) = request.header("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(target);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let arn = body["CertificateArn"].as_str().unwrap_or_default().to_string();
        return match operation {
            "ListCertificates" => one(operation, "acm:ListCertificates", "*".into(), vec![]),
            "DescribeCertificate" => one(operation, "acm:DescribeCertificate", arn, owned()),
            "ListTagsForCertificate" => one(operation, "acm:ListTagsForCertificate", arn, owned()),
            "DeleteCertificate" => one(operation, "acm:DeleteCertificate", arn, owned()),
            "RequestCertificate" => {
                let tags: Vec<(String, String)> = body["Tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        (t["Key"].as_str().unwrap_or_default().into(), t["Value"].as_str().unwrap_or_default().into())
                    })
                    .collect();
                let mut names = vec![Value::String(body["DomainName"].as_str().unwrap_or_default().to_lowercase())];
                names.extend(body["SubjectAlternativeNames"].as_array().into_iter().flatten().cloned());
                let mut context = request_tags(&tags);
                context.push(("acm:DomainNames".into(), Value::Array(names)));
                context.push(("acm:ValidationMethod".into(), body["ValidationMethod"].clone()));
                let mut authorizations = vec![Authz {
                    role: role.into(),
                    action: "acm:RequestCertificate".into(),
                    resource: "*".into(),
                    context: context.into_iter().collect(),
                }];
                // Tags in the request need acm:AddTagsToCertificate on the new certificate
                // (which carries no tags yet).
                if !tags.is_empty() {
                    authorizations.push(Authz {
                        role: role.into(),
                        action: "acm:AddTagsToCertificate".into(),
                        resource: format!("arn:aws:acm:us-east-1:{ACCOUNT}:certificate/new-certificate"),
                        context: request_tags(&tags).into_iter().collect(),
                    });
                }
                Ok((operation.into(), authorizations))
            }
            _ => unknown(),
        };
    }
    // Query protocol (STS).
    if request.method == "POST"
        && let Some(action) = request.text().split('&').find_map(|kv| kv.strip_prefix("Action=").map(str::to_string))
    {
        return match action.as_str() {
            "GetCallerIdentity" => one(&action, "sts:GetCallerIdentity", "*".into(), vec![]),
            _ => unknown(),
        };
    }
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let method = request.method.as_str();
    // CloudFront.
    if segments.first() == Some(&"2020-05-31") {
        let distribution = |id: &str| format!("arn:aws:cloudfront::{ACCOUNT}:distribution/{id}");
        let oac = |id: &str| format!("arn:aws:cloudfront::{ACCOUNT}:origin-access-control/{id}");
        return match (method, &segments[1..]) {
            ("GET", ["distribution"]) => one("ListDistributions", "cloudfront:ListDistributions", "*".into(), vec![]),
            ("POST", ["distribution"]) if request.has_query("WithTags") => {
                let text = request.text();
                let tags: Vec<(String, String)> = elements(&text, "Tag")
                    .iter()
                    .map(|t| (elements(t, "Key")[0].clone(), elements(t, "Value")[0].clone()))
                    .collect();
                Ok((
                    "CreateDistributionWithTags".into(),
                    vec![
                        authz(role, "cloudfront:CreateDistribution", "*", &[]),
                        authz(role, "cloudfront:TagResource", &distribution("ENEWDISTRIBUTION"), &[]),
                    ]
                    .into_iter()
                    .map(|mut a| {
                        a.context = request_tags(&tags).into_iter().collect();
                        a
                    })
                    .collect(),
                ))
            }
            ("POST", ["distribution"]) => {
                one("CreateDistribution", "cloudfront:CreateDistribution", "*".into(), vec![])
            }
            ("GET", ["distribution", id]) => {
                one("GetDistribution", "cloudfront:GetDistribution", distribution(id), owned())
            }
            ("GET", ["distribution", id, "config"]) => {
                one("GetDistributionConfig", "cloudfront:GetDistributionConfig", distribution(id), owned())
            }
            ("PUT", ["distribution", id, "config"]) => {
                one("UpdateDistribution", "cloudfront:UpdateDistribution", distribution(id), owned())
            }
            ("DELETE", ["distribution", id]) => {
                one("DeleteDistribution", "cloudfront:DeleteDistribution", distribution(id), owned())
            }
            ("POST", ["distribution", id, "invalidation"]) => {
                one("CreateInvalidation", "cloudfront:CreateInvalidation", distribution(id), owned())
            }
            ("GET", ["distribution", id, "invalidation", _]) => {
                one("GetInvalidation", "cloudfront:GetInvalidation", distribution(id), owned())
            }
            ("GET", ["tagging"]) => one(
                "ListTagsForResource",
                "cloudfront:ListTagsForResource",
                request.query_value("Resource").unwrap_or_default(),
                owned(),
            ),
            ("GET", ["origin-access-control"]) => {
                one("ListOriginAccessControls", "cloudfront:ListOriginAccessControls", "*".into(), vec![])
            }
            ("POST", ["origin-access-control"]) => {
                one("CreateOriginAccessControl", "cloudfront:CreateOriginAccessControl", "*".into(), vec![])
            }
            ("GET", ["origin-access-control", id]) => {
                one("GetOriginAccessControl", "cloudfront:GetOriginAccessControl", oac(id), vec![])
            }
            ("PUT", ["origin-access-control", id, "config"]) => {
                one("UpdateOriginAccessControl", "cloudfront:UpdateOriginAccessControl", oac(id), vec![])
            }
            ("DELETE", ["origin-access-control", id]) => {
                one("DeleteOriginAccessControl", "cloudfront:DeleteOriginAccessControl", oac(id), vec![])
            }
            _ => unknown(),
        };
    }
    // Route53.
    if segments.first() == Some(&"2013-04-01") {
        let zone = |id: &str| format!("arn:aws:route53:::hostedzone/{id}");
        return match (method, &segments[1..]) {
            ("GET", ["hostedzonesbyname"]) => {
                one("ListHostedZonesByName", "route53:ListHostedZonesByName", "*".into(), vec![])
            }
            ("GET", ["hostedzone", id, "rrset"]) => {
                one("ListResourceRecordSets", "route53:ListResourceRecordSets", zone(id), vec![])
            }
            ("POST", ["hostedzone", id, "rrset"]) => {
                let text = request.text();
                let names: Vec<Value> = elements(&text, "Name")
                    .iter()
                    .map(|n| Value::String(n.trim_end_matches('.').to_ascii_lowercase()))
                    .collect();
                let types: Vec<Value> = elements(&text, "Type").into_iter().map(Value::String).collect();
                let actions: Vec<Value> = elements(&text, "Action").into_iter().map(Value::String).collect();
                one(
                    "ChangeResourceRecordSets",
                    "route53:ChangeResourceRecordSets",
                    zone(id),
                    vec![
                        ("route53:ChangeResourceRecordSetsNormalizedRecordNames".into(), Value::Array(names)),
                        ("route53:ChangeResourceRecordSetsRecordTypes".into(), Value::Array(types)),
                        ("route53:ChangeResourceRecordSetsActions".into(), Value::Array(actions)),
                    ],
                )
            }
            ("GET", ["change", id]) => {
                one("GetChange", "route53:GetChange", format!("arn:aws:route53:::change/{id}"), vec![])
            }
            _ => unknown(),
        };
    }
    // S3, path style: /BUCKET[/KEY].
    let Some((bucket, key)) = request
        .path
        .trim_start_matches('/')
        .split_once('/')
        .map(|(b, k)| (b.to_string(), Some(k.to_string())))
        .or_else(|| {
            let bucket = request.path.trim_matches('/');
            (!bucket.is_empty()).then(|| (bucket.to_string(), None))
        })
    else {
        return unknown();
    };
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    if let Some(key) = key.filter(|k| !k.is_empty()) {
        let object = format!("{bucket_arn}/{}", percent_decode(&key));
        return match method {
            "GET" => one("GetObject", "s3:GetObject", object, vec![]),
            "HEAD" => one("HeadObject", "s3:GetObject", object, vec![]),
            "PUT" => one("PutObject", "s3:PutObject", object, vec![]),
            "DELETE" if request.has_query("versionId") => {
                one("DeleteObject (a version)", "s3:DeleteObjectVersion", object, vec![])
            }
            "DELETE" => one("DeleteObject", "s3:DeleteObject", object, vec![]),
            _ => unknown(),
        };
    }
    let subresource = |name: &str| request.has_query(name);
    let bucket_action: Option<(&str, &str)> = match method {
        "HEAD" => Some(("HeadBucket", "s3:ListBucket")),
        "PUT" if subresource("tagging") => Some(("PutBucketTagging", "s3:PutBucketTagging")),
        "GET" if subresource("tagging") => Some(("GetBucketTagging", "s3:GetBucketTagging")),
        "PUT" if subresource("publicAccessBlock") => Some(("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock")),
        "GET" if subresource("publicAccessBlock") => Some(("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock")),
        "PUT" if subresource("encryption") => Some(("PutBucketEncryption", "s3:PutEncryptionConfiguration")),
        "GET" if subresource("encryption") => Some(("GetBucketEncryption", "s3:GetEncryptionConfiguration")),
        "PUT" if subresource("versioning") => Some(("PutBucketVersioning", "s3:PutBucketVersioning")),
        "GET" if subresource("versioning") => Some(("GetBucketVersioning", "s3:GetBucketVersioning")),
        "GET" if subresource("versions") => Some(("ListObjectVersions", "s3:ListBucketVersions")),
        "PUT" if subresource("ownershipControls") => {
            Some(("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"))
        }
        "GET" if subresource("ownershipControls") => {
            Some(("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"))
        }
        "PUT" if subresource("policy") => Some(("PutBucketPolicy", "s3:PutBucketPolicy")),
        "GET" if subresource("policy") => Some(("GetBucketPolicy", "s3:GetBucketPolicy")),
        "DELETE" if subresource("policy") => Some(("DeleteBucketPolicy", "s3:DeleteBucketPolicy")),
        "GET" if subresource("location") => Some(("GetBucketLocation", "s3:GetBucketLocation")),
        "GET" if subresource("list-type") => Some(("ListObjectsV2", "s3:ListBucket")),
        "DELETE" if request.query.is_empty() || request.query.starts_with("x-id=") => {
            Some(("DeleteBucket", "s3:DeleteBucket"))
        }
        _ => None,
    };
    if let Some((operation, action)) = bucket_action {
        return one(operation, action, bucket_arn, vec![]);
    }
    if method == "PUT" && (request.query.is_empty() || request.query.starts_with("x-id=")) {
        // CreateBucket with x-amz-object-ownership also needs s3:PutBucketOwnershipControls.
        let mut authorizations = vec![authz(role, "s3:CreateBucket", &bucket_arn, &[])];
        if request.header("x-amz-object-ownership").is_some() {
            authorizations.push(authz(role, "s3:PutBucketOwnershipControls", &bucket_arn, &[]));
        }
        return Ok(("CreateBucket".into(), authorizations));
    }
    unknown()
}

/// Evaluate every authorization against `policies` (`{"deploy": …, "plan": …,
/// "release": …}`); the decision of each, in order (`Allowed`, `ImplicitlyDenied`,
/// `ExplicitlyDenied`, or `Error: …` when the simulator rejects the request as invalid).
pub fn simulate(policies: &Value, requests: &[Authz]) -> Vec<String> {
    let simulator = xtask_dev::harness::locate_iam_simulate().unwrap_or_else(|err| panic!("{err:#}"));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/iam/simulate.cjs");
    let input = json!({
        "policies": policies,
        "requests": requests.iter().map(|r| json!({
            "role": r.role, "action": r.action, "resource": r.resource, "context": r.context,
        })).collect::<Vec<_>>(),
    });
    let mut child = Command::new("node")
        .arg(&script)
        .arg(&simulator)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node (Node.js is needed for the IAM simulator)");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "simulate.cjs failed: {}", String::from_utf8_lossy(&out.stderr));
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).expect("simulate.cjs prints JSON");
    assert_eq!(answers.len(), requests.len());
    answers
        .iter()
        .map(|a| match a["decision"].as_str().unwrap_or("Error") {
            "Error" => format!("Error: {}", a["errors"]),
            decision => decision.to_string(),
        })
        .collect()
}

/// Requests each role must NOT be allowed: another bucket, a distribution or certificate
/// tagged for someone else, records outside the domain or of other types, tagging a
/// foreign resource as ours, the release role changing infrastructure, the plan role
/// writing. `bucket`, `domain` and `ours` are the config's.
pub fn out_of_bounds(bucket: &str, domain: &str, ours: &[(String, String)]) -> Vec<Authz> {
    let theirs = vec![("project".to_string(), "kube9-portal".to_string())];
    let foreign_distribution = format!("arn:aws:cloudfront::{ACCOUNT}:distribution/EPORTAL");
    let our_distribution = format!("arn:aws:cloudfront::{ACCOUNT}:distribution/EOURS");
    let foreign_certificate = format!("arn:aws:acm:us-east-1:{ACCOUNT}:certificate/portal");
    let zone = "arn:aws:route53:::hostedzone/Z0ZONE";
    let other_bucket = "arn:aws:s3:::someone-elses-bucket";
    let our_bucket = format!("arn:aws:s3:::{bucket}");
    let ctx = |pairs: Vec<(String, Value)>| pairs.into_iter().collect::<BTreeMap<_, _>>();
    let with = |role: &str, action: &str, resource: &str, context: Vec<(String, Value)>| Authz {
        role: role.into(),
        action: action.into(),
        resource: resource.into(),
        context: ctx(context),
    };
    let records = |name: &str, kind: &str, action: &str| {
        vec![
            ("route53:ChangeResourceRecordSetsNormalizedRecordNames".to_string(), json!([name])),
            ("route53:ChangeResourceRecordSetsRecordTypes".to_string(), json!([kind])),
            ("route53:ChangeResourceRecordSetsActions".to_string(), json!([action])),
        ]
    };
    let mut with_extra_tag = ours.to_vec();
    with_extra_tag.push(("owner".into(), "someone".into()));
    let mut certificate_for_another_name = request_tags(ours);
    certificate_for_another_name.push(("acm:DomainNames".into(), json!([format!("www.{domain}")])));
    certificate_for_another_name.push(("acm:ValidationMethod".into(), json!("DNS")));
    let mut tagging_foreign_as_ours = request_tags(ours);
    tagging_foreign_as_ours.extend(resource_tags(&theirs));
    vec![
        with("deploy", "s3:PutBucketPolicy", other_bucket, vec![]),
        with("deploy", "s3:DeleteBucket", other_bucket, vec![]),
        with("deploy", "s3:PutObject", &format!("{our_bucket}/index.yaml"), vec![]),
        with("deploy", "cloudfront:UpdateDistribution", &foreign_distribution, resource_tags(&theirs)),
        with("deploy", "cloudfront:DeleteDistribution", &foreign_distribution, resource_tags(&theirs)),
        with("deploy", "cloudfront:UpdateDistribution", &foreign_distribution, vec![]),
        with("deploy", "cloudfront:TagResource", &foreign_distribution, tagging_foreign_as_ours.clone()),
        with("deploy", "cloudfront:CreateDistribution", "*", vec![]),
        with("deploy", "cloudfront:CreateDistribution", "*", request_tags(&with_extra_tag)),
        with("deploy", "acm:DeleteCertificate", &foreign_certificate, resource_tags(&theirs)),
        with("deploy", "acm:AddTagsToCertificate", &foreign_certificate, tagging_foreign_as_ours),
        with("deploy", "acm:RequestCertificate", "*", certificate_for_another_name),
        with("deploy", "route53:ChangeResourceRecordSets", zone, records(&format!("www.{domain}"), "A", "UPSERT")),
        with("deploy", "route53:ChangeResourceRecordSets", zone, records(domain, "TXT", "UPSERT")),
        with("deploy", "route53:ChangeResourceRecordSets", zone, records(domain, "NS", "DELETE")),
        with("deploy", "route53:ChangeResourceRecordSets", zone, records(domain, "A", "CREATE")),
        with("release", "s3:DeleteObject", &format!("{our_bucket}/chart-1.0.0.tgz"), vec![]),
        with("release", "s3:PutObject", &format!("{other_bucket}/index.yaml"), vec![]),
        with("release", "s3:PutBucketPolicy", &our_bucket, vec![]),
        with("release", "s3:DeleteBucket", &our_bucket, vec![]),
        with("release", "cloudfront:UpdateDistribution", &our_distribution, resource_tags(ours)),
        with("release", "cloudfront:DeleteDistribution", &our_distribution, resource_tags(ours)),
        with("release", "cloudfront:CreateInvalidation", &foreign_distribution, resource_tags(&theirs)),
        with("release", "route53:ChangeResourceRecordSets", zone, records(domain, "A", "UPSERT")),
        with("plan", "s3:PutBucketPolicy", &our_bucket, vec![]),
        with("plan", "s3:CreateBucket", &our_bucket, vec![]),
        with("plan", "s3:PutObject", &format!("{our_bucket}/404.html"), vec![]),
        with("plan", "cloudfront:UpdateDistribution", &our_distribution, resource_tags(ours)),
        with("plan", "cloudfront:CreateInvalidation", &our_distribution, resource_tags(ours)),
        with("plan", "acm:RequestCertificate", "*", vec![]),
        with("plan", "route53:ChangeResourceRecordSets", zone, records(domain, "A", "UPSERT")),
    ]
}
