//! The S3 bucket: its managed configuration as a type ([`BucketConfig`]), what the
//! preflight reads of it (and refuses), how a step creates or corrects it and how a
//! rollback deletes it; with what lives in it, the error page and the bucket policy.

use std::collections::BTreeMap;
use std::future::Future;

use anyhow::{Context, Result, bail};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types as s3t;

use super::apply::{Created, Run};
use super::desired::{Desired, ERROR_PAGE_BODY, ERROR_PAGE_KEY, ERROR_PAGE_KIND};
use super::plan::{Action, Step};
use super::policy;
use super::settings::{Before, BucketSetting, Setting, SettingChange, Settings};
use crate::aws::Clients;
use crate::aws::error::{AwsError, AwsResultExt, ErrorKind};
use crate::config::CachePolicy;
use crate::retry::{self, Attempt};

/// S3's default region: an empty LocationConstraint means it, and CreateBucket takes no
/// constraint there.
const S3_DEFAULT_REGION: &str = "us-east-1";

/// The four Block Public Access flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicAccess {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccess {
    pub const ALL_BLOCKED: PublicAccess = PublicAccess {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    /// A bucket without a Block Public Access configuration.
    pub const NONE: PublicAccess = PublicAccess {
        block_public_acls: false,
        ignore_public_acls: false,
        block_public_policy: false,
        restrict_public_buckets: false,
    };
}

/// The error page in the bucket, as listed: the size tells ours from another page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    Ours,
    Other { size: i64 },
}

impl ErrorPage {
    fn describe(self) -> String {
        match self {
            ErrorPage::Ours => format!("{ERROR_PAGE_KEY} ({} bytes)", ERROR_PAGE_BODY.len()),
            ErrorPage::Other { size } => format!("{ERROR_PAGE_KEY} (other content, {size} bytes)"),
        }
    }
}

/// The bucket settings deploy-infra manages: what [`Desired::bucket_config`] wants and
/// what the preflight finds, compared through [`BucketConfig::settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketConfig {
    pub region: String,
    pub public_access: PublicAccess,
    /// Default encryption; `None`: none configured.
    pub encryption: Option<s3t::ServerSideEncryption>,
    /// `None`: versioning was never enabled.
    pub versioning: Option<s3t::BucketVersioningStatus>,
    /// `None`: no ownership controls.
    pub object_ownership: Option<s3t::ObjectOwnership>,
    /// Our ownership tags as they are on the bucket (others' tags are not managed).
    pub tags: BTreeMap<String, String>,
    pub error_page: Option<ErrorPage>,
}

impl BucketConfig {
    /// The settings as a plan shows them.
    pub fn settings(&self) -> Settings {
        let access = self.public_access;
        let tags: Vec<String> = self.tags.iter().map(|(key, value)| format!("{key}={value}")).collect();
        let mut settings = Settings::new();
        settings
            .set(BucketSetting::Region, &self.region)
            .set(BucketSetting::BlockPublicAcls, access.block_public_acls.to_string())
            .set(BucketSetting::IgnorePublicAcls, access.ignore_public_acls.to_string())
            .set(BucketSetting::BlockPublicPolicy, access.block_public_policy.to_string())
            .set(BucketSetting::RestrictPublicBuckets, access.restrict_public_buckets.to_string())
            .put(BucketSetting::Encryption, self.encryption.as_ref().map(s3t::ServerSideEncryption::as_str))
            .set(
                BucketSetting::Versioning,
                self.versioning.as_ref().map_or("Disabled", s3t::BucketVersioningStatus::as_str),
            )
            .put(BucketSetting::ObjectOwnership, self.object_ownership.as_ref().map(s3t::ObjectOwnership::as_str))
            .set(BucketSetting::Tags, tags.join(","))
            .put(BucketSetting::ErrorPage, self.error_page.map(ErrorPage::describe));
        settings
    }
}

/// The bucket as the preflight found it.
#[derive(Debug, Clone)]
pub struct BucketState {
    pub config: BucketConfig,
    /// Every tag on the bucket, ours and others'. Read once, here: tagging keeps the
    /// others' from this list.
    pub tags: Vec<(String, String)>,
    /// The bucket policy text, when there is one.
    pub policy: Option<String>,
}

/// The bucket's tags; none when it has no tag set.
async fn read_tags(clients: &Clients, name: &str) -> Result<Vec<(String, String)>> {
    match clients.s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
        Err(err) if err.kind() == ErrorKind::NoConfiguration => Ok(Vec::new()),
        Err(err) => Err(err).aws(|| format!("reading tags of bucket {name}")),
    }
}

/// The bucket, when it exists; refused unless it carries our tags and is in our region.
pub(super) async fn discover(clients: &Clients, desired: &Desired) -> Result<Option<BucketState>> {
    let name = desired.bucket();
    let s3 = &clients.s3;
    if let Err(err) = s3.head_bucket().bucket(name).send().await {
        return match err.kind() {
            ErrorKind::NotFound => Ok(None),
            ErrorKind::AccessDenied => bail!(
                "preflight: bucket {name} answered HeadBucket with HTTP 403: it is owned by another account, or \
                 this role lacks s3:ListBucket on it; bucket names are global: choose another `bucket` in the config, \
                 or grant the role the policy `cargo xtask iam-policy --role deploy` prints"
            ),
            ErrorKind::WrongRegion => bail!(
                "preflight: bucket {name} exists in another region than {} (HTTP 301): set `region` to the \
                 bucket's region, or choose another `bucket`",
                desired.config.region
            ),
            _ => bail!("preflight: checking bucket {name}: {}", err.describe()),
        };
    }
    let tags = read_tags(clients, name).await.context("preflight")?;
    if !desired.config.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        bail!(
            "preflight: bucket {name} already exists without our ownership tags ({}); it belongs to something \
             else (the portal?) and is left untouched: choose another `bucket` in the config, or tag it if it \
             really is this repository's bucket",
            desired.config.tags_text()
        );
    }
    let location = s3
        .get_bucket_location()
        .bucket(name)
        .send()
        .await
        .aws(|| format!("preflight: reading the region of bucket {name}"))?;
    let region = location
        .location_constraint()
        .map(s3t::BucketLocationConstraint::as_str)
        .filter(|c| !c.is_empty())
        .unwrap_or(S3_DEFAULT_REGION);
    if region != desired.config.region {
        bail!(
            "preflight: bucket {name} is in {region} but the config says {}: set `region` to {region}",
            desired.config.region
        );
    }
    let public_access = match s3.get_public_access_block().bucket(name).send().await {
        Ok(out) => {
            let c = out.public_access_block_configuration();
            let flag = |f: fn(&s3t::PublicAccessBlockConfiguration) -> Option<bool>| c.and_then(f).unwrap_or(false);
            PublicAccess {
                block_public_acls: flag(s3t::PublicAccessBlockConfiguration::block_public_acls),
                ignore_public_acls: flag(s3t::PublicAccessBlockConfiguration::ignore_public_acls),
                block_public_policy: flag(s3t::PublicAccessBlockConfiguration::block_public_policy),
                restrict_public_buckets: flag(s3t::PublicAccessBlockConfiguration::restrict_public_buckets),
            }
        }
        Err(err) if err.kind() == ErrorKind::NoConfiguration => PublicAccess::NONE,
        Err(err) => bail!("preflight: reading Block Public Access of bucket {name}: {}", err.describe()),
    };
    let encryption = match s3.get_bucket_encryption().bucket(name).send().await {
        Ok(out) => out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().clone()),
        Err(err) if err.kind() == ErrorKind::NoConfiguration => None,
        Err(err) => bail!("preflight: reading encryption of bucket {name}: {}", err.describe()),
    };
    let versioning = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .aws(|| format!("preflight: reading versioning of bucket {name}"))?
        .status;
    let object_ownership = match s3.get_bucket_ownership_controls().bucket(name).send().await {
        Ok(out) => out.ownership_controls().and_then(|c| c.rules().first()).map(|r| r.object_ownership().clone()),
        Err(err) if err.kind() == ErrorKind::NoConfiguration => None,
        Err(err) => bail!("preflight: reading object ownership of bucket {name}: {}", err.describe()),
    };
    // Listing, not GetObject: a bucket-level read, so it needs no object permission and
    // works whatever the bucket policy says. The size tells our page from another one.
    let listed = s3
        .list_objects_v2()
        .bucket(name)
        .prefix(ERROR_PAGE_KEY)
        .max_keys(1)
        .send()
        .await
        .aws(|| format!("preflight: looking for s3://{name}/{ERROR_PAGE_KEY}"))?;
    let error_page =
        listed.contents().iter().find(|o| o.key() == Some(ERROR_PAGE_KEY)).map(|object| match object.size() {
            Some(size) if size == ERROR_PAGE_BODY.len() as i64 => ErrorPage::Ours,
            size => ErrorPage::Other { size: size.unwrap_or(0) },
        });
    let policy = match s3.get_bucket_policy().bucket(name).send().await {
        Ok(out) => out.policy().map(str::to_string),
        Err(err) if err.kind() == ErrorKind::NoConfiguration => None,
        Err(err) => bail!("preflight: reading the policy of bucket {name}: {}", err.describe()),
    };
    let config = BucketConfig {
        region: region.to_string(),
        public_access,
        encryption,
        versioning,
        object_ownership,
        tags: tags.iter().filter(|(k, _)| desired.config.tags.contains_key(k)).cloned().collect(),
        error_page,
    };
    Ok(Some(BucketState { config, tags, policy }))
}

/// A configuration call on the bucket this run just created: S3 can answer NoSuchBucket
/// for a short while after CreateBucket (eventual consistency), so that answer is
/// retried as [`retry::NEW_BUCKET`] allows. Any other answer is returned as is.
async fn on_new_bucket<T, E, F, Fut>(created_now: bool, mut call: F) -> Result<T, SdkError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if !created_now {
        return call().await;
    }
    let answer = retry::run(
        retry::NEW_BUCKET,
        |_| {
            let call = call();
            async move {
                match call.await {
                    Err(err) if err.kind() == ErrorKind::NoSuchBucket => Attempt::Again(err),
                    other => Attempt::Done(other),
                }
            }
        },
        |_, backoff| {
            tracing::info!("bucket not visible yet after CreateBucket (attempt {}); retrying", backoff.attempt);
        },
    )
    .await;
    match answer {
        Ok(answer) => answer,
        Err(gave_up) => Err(gave_up.last),
    }
}

impl Run<'_> {
    pub(super) async fn apply_bucket(&mut self, step: &Step) -> Result<()> {
        let wanted = self.desired.bucket_config();
        let create = step.action == Action::Create;
        let change = |setting| step.changes.iter().find(|c: &&SettingChange| c.setting == Setting::Bucket(setting));
        let changed = |setting| change(setting).is_some();
        // Every tag on the bucket before this step: as the preflight read them, none on a
        // bucket this step creates, or those of a bucket another run created meanwhile.
        let mut tags = self.actual.bucket.as_ref().map(|bucket| bucket.tags.clone()).unwrap_or_default();
        if create && let Some(adopted) = self.create_bucket(&wanted).await? {
            tags = adopted;
        }
        let s3 = &self.clients.s3;
        let name = self.desired.bucket();
        // Tags first: they mark the bucket as ours, so a run killed right after the create
        // leaves a bucket the next run adopts instead of refusing it as foreign.
        if changed(BucketSetting::Tags) {
            // Keep tags others put on the bucket; ours win.
            tags.retain(|(k, _)| !wanted.tags.contains_key(k));
            tags.extend(wanted.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            let tag_set = tags
                .into_iter()
                .map(|(k, v)| s3t::Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            let tagging = s3t::Tagging::builder().set_tag_set(Some(tag_set)).build()?;
            on_new_bucket(create, || s3.put_bucket_tagging().bucket(name).tagging(tagging.clone()).send())
                .await
                .aws(|| format!("tagging bucket {name}"))?;
        }
        if [
            BucketSetting::BlockPublicAcls,
            BucketSetting::IgnorePublicAcls,
            BucketSetting::BlockPublicPolicy,
            BucketSetting::RestrictPublicBuckets,
        ]
        .into_iter()
        .any(changed)
        {
            let access = wanted.public_access;
            let block = s3t::PublicAccessBlockConfiguration::builder()
                .block_public_acls(access.block_public_acls)
                .ignore_public_acls(access.ignore_public_acls)
                .block_public_policy(access.block_public_policy)
                .restrict_public_buckets(access.restrict_public_buckets)
                .build();
            on_new_bucket(create, || {
                s3.put_public_access_block().bucket(name).public_access_block_configuration(block.clone()).send()
            })
            .await
            .aws(|| format!("turning on Block Public Access of bucket {name}"))?;
        }
        if changed(BucketSetting::Encryption)
            && let Some(algorithm) = &wanted.encryption
        {
            let rule = s3t::ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    s3t::ServerSideEncryptionByDefault::builder().sse_algorithm(algorithm.clone()).build()?,
                )
                .build();
            let encryption = s3t::ServerSideEncryptionConfiguration::builder().rules(rule).build()?;
            on_new_bucket(create, || {
                s3.put_bucket_encryption().bucket(name).server_side_encryption_configuration(encryption.clone()).send()
            })
            .await
            .aws(|| format!("setting SSE-S3 encryption of bucket {name}"))?;
        }
        if changed(BucketSetting::Versioning)
            && let Some(status) = &wanted.versioning
        {
            let versioning = s3t::VersioningConfiguration::builder().status(status.clone()).build();
            on_new_bucket(create, || {
                s3.put_bucket_versioning().bucket(name).versioning_configuration(versioning.clone()).send()
            })
            .await
            .aws(|| format!("enabling versioning of bucket {name}"))?;
        }
        if changed(BucketSetting::ObjectOwnership)
            && let Some(ownership) = &wanted.object_ownership
        {
            let rule = s3t::OwnershipControlsRule::builder().object_ownership(ownership.clone()).build()?;
            let controls = s3t::OwnershipControls::builder().rules(rule).build()?;
            on_new_bucket(create, || {
                s3.put_bucket_ownership_controls().bucket(name).ownership_controls(controls.clone()).send()
            })
            .await
            .aws(|| format!("setting {} on bucket {name}", ownership.as_str()))?;
        }
        if let Some(change) = change(BucketSetting::ErrorPage) {
            let cache = CachePolicy::from_config(&self.desired.config);
            on_new_bucket(create, || {
                s3.put_object()
                    .bucket(name)
                    .key(ERROR_PAGE_KEY)
                    .body(aws_sdk_s3::primitives::ByteStream::from_static(ERROR_PAGE_BODY.as_bytes()))
                    .content_type(ERROR_PAGE_KIND.content_type())
                    .cache_control(cache.for_kind(ERROR_PAGE_KIND))
                    .send()
            })
            .await
            .aws(|| format!("uploading the error page s3://{name}/{ERROR_PAGE_KEY}"))?;
            // A page written where there was none is this run's (a created bucket goes
            // as a whole; another page that was there is overwritten, never deleted).
            if change.from == Before::Unset {
                self.journal.push(Created::ErrorPage);
            }
        }
        Ok(())
    }

    /// CreateBucket; or, when a bucket appeared since the preflight (a concurrent run),
    /// its tags: it is adopted when it carries ours, refused otherwise.
    async fn create_bucket(&mut self, wanted: &BucketConfig) -> Result<Option<Vec<(String, String)>>> {
        let s3 = &self.clients.s3;
        let name = self.desired.bucket();
        let mut request = s3.create_bucket().bucket(name).set_object_ownership(wanted.object_ownership.clone());
        if wanted.region != S3_DEFAULT_REGION {
            request = request.create_bucket_configuration(
                s3t::CreateBucketConfiguration::builder()
                    .location_constraint(s3t::BucketLocationConstraint::from(wanted.region.as_str()))
                    .build(),
            );
        }
        // In us-east-1 CreateBucket answers 200 for a bucket we already own (made by a run
        // that raced this one since the preflight): only a bucket that did not exist right
        // before is journaled, so a rollback never deletes another run's bucket.
        match s3.head_bucket().bucket(name).send().await {
            Err(err) if err.kind() == ErrorKind::NotFound => {
                request.send().await.aws(|| format!("creating bucket {name}"))?;
                self.journal.push(Created::Bucket);
                Ok(None)
            }
            Err(err) => bail!("checking bucket {name} before creating it: {}", err.describe()),
            Ok(_) => {
                let tags = read_tags(self.clients, name).await?;
                if !self.desired.config.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                    bail!(
                        "bucket {name} appeared since the preflight without our ownership tags ({}); it is left \
                         untouched: re-run `cargo xtask deploy-infra` to see who owns it",
                        self.desired.config.tags_text()
                    );
                }
                tracing::warn!("bucket {name} was created by another run since the preflight; adopting it");
                Ok(Some(tags))
            }
        }
    }

    pub(super) async fn apply_bucket_policy(&mut self, step: &Step) -> Result<()> {
        let name = self.desired.bucket();
        let arn = self.distribution.as_ref().map(|d| d.arn.clone()).context("the distribution is not known")?;
        let document = policy::bucket_policy(&self.desired.config, &arn);
        self.clients
            .s3
            .put_bucket_policy()
            .bucket(name)
            .policy(document.to_string())
            .send()
            .await
            .aws(|| format!("putting the bucket policy of {name}"))?;
        if step.action == Action::Create {
            self.journal.push(Created::BucketPolicy);
        }
        Ok(())
    }

    pub(super) async fn delete_bucket_policy(&self) -> Result<()> {
        let bucket = self.desired.bucket();
        self.clients
            .s3
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .aws(|| format!("deleting the policy of {bucket}"))?;
        Ok(())
    }

    pub(super) async fn delete_error_page(&self) -> Result<()> {
        self.delete_versions(Some(ERROR_PAGE_KEY)).await
    }

    /// Empty the bucket (every version), then delete it.
    pub(super) async fn delete_bucket(&self) -> Result<()> {
        let bucket = self.desired.bucket();
        self.delete_versions(None).await?;
        self.clients.s3.delete_bucket().bucket(bucket).send().await.aws(|| format!("deleting bucket {bucket}"))?;
        Ok(())
    }

    /// Delete every version and delete marker (of one key, or of the whole bucket).
    async fn delete_versions(&self, key: Option<&str>) -> Result<()> {
        let s3 = &self.clients.s3;
        let bucket = self.desired.bucket();
        loop {
            let out = s3
                .list_object_versions()
                .bucket(bucket)
                .set_prefix(key.map(str::to_string))
                .send()
                .await
                .aws(|| format!("listing object versions in {bucket}"))?;
            let mut targets: Vec<(String, Option<String>)> = Vec::new();
            for v in out.versions() {
                targets.push((v.key().unwrap_or_default().to_string(), v.version_id().map(str::to_string)));
            }
            for m in out.delete_markers() {
                targets.push((m.key().unwrap_or_default().to_string(), m.version_id().map(str::to_string)));
            }
            targets.retain(|(k, _)| key.is_none_or(|key| k == key));
            if targets.is_empty() {
                return Ok(());
            }
            for (k, version) in targets {
                s3.delete_object()
                    .bucket(bucket)
                    .key(&k)
                    .set_version_id(version)
                    .send()
                    .await
                    .aws(|| format!("deleting s3://{bucket}/{k}"))?;
            }
        }
    }
}
