//! The shape most resources share: a thing on the server with create, read, update
//! and delete calls. [`Managed`] holds what differs; [`Adapter`] turns it into the
//! plugin protocol's resource (plans, replacement, diagnostics, import).

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tf_provider::schema::{Block, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::api::{Api, ApiResult};
use crate::state::{Shared, error, failed};

#[async_trait]
pub trait Managed: Send + Sync + 'static {
    type State: Serialize + DeserializeOwned + Send + Sync + Clone + PartialEq + Default;

    /// "user", "access key": for messages.
    const KIND: &'static str;

    fn block(&self) -> Block;

    /// Checks that need no server (run at validate and at plan).
    fn check(&self, _diags: &mut Diagnostics, _config: &Self::State) {}

    /// The planned state: defaults filled in; on create, computed values the server
    /// chooses set to unknown.
    fn plan(&self, proposed: Self::State, creating: bool) -> Self::State;

    /// Keeps prior values the configuration only restates: Terraform accepts a planned
    /// value equal to the prior state in place of a configured one as "functionally
    /// equivalent" (a policy with other spacing, a create-only setting).
    fn keep_equivalent(&self, _prior: &Self::State, _planned: &mut Self::State) {}

    /// Attributes whose change needs a new object.
    fn replaced(&self, prior: &Self::State, proposed: &Self::State) -> Vec<AttributePath>;

    /// Who the state names, for messages.
    fn label(&self, s: &Self::State) -> String;

    async fn create(&self, api: &Api, planned: &Self::State) -> ApiResult<Self::State>;

    /// `None` when the object is gone.
    async fn read(&self, api: &Api, state: &Self::State) -> ApiResult<Option<Self::State>>;

    /// Only attributes that are not replaced change here.
    async fn update(
        &self,
        api: &Api,
        prior: &Self::State,
        planned: &Self::State,
    ) -> ApiResult<Self::State>;

    async fn delete(&self, api: &Api, state: &Self::State) -> ApiResult<()>;

    /// The state `terraform import` starts from (then read); `None` for an id of the
    /// wrong shape.
    fn import_state(&self, id: &str) -> Option<Self::State>;

    /// What an import id looks like, for the error when it does not.
    const IMPORT_ID: &'static str;
}

pub struct Adapter<M> {
    pub shared: Shared,
    pub managed: M,
}

impl<M> Adapter<M> {
    pub fn new(shared: &Shared, managed: M) -> Adapter<M> {
        Adapter {
            shared: shared.clone(),
            managed,
        }
    }
}

/// `path` when the two values differ: for [`Managed::replaced`].
pub fn changed<T: PartialEq>(
    out: &mut Vec<AttributePath>,
    name: &'static str,
    a: &Value<T>,
    b: &Value<T>,
) {
    if a != b {
        out.push(AttributePath::new(name));
    }
}

#[async_trait]
impl<M: Managed> Resource for Adapter<M> {
    type State<'a> = M::State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        crate::schema::schema(self.managed.block())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: M::State) -> Option<()> {
        self.managed.check(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: M::State,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(M::State, ValueEmpty)> {
        let api = self.shared.api(diags)?;
        match self.managed.read(api, &state).await {
            Ok(Some(s)) => Some((s, private_state)),
            Ok(None) => None,
            Err(e) => {
                let what = format!("Reading {} {}", M::KIND, self.managed.label(&state));
                failed(diags, &what, e);
                Some((state, private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: M::State,
        _config: M::State,
        _meta: ValueEmpty,
    ) -> Option<(M::State, ValueEmpty)> {
        self.managed.check(diags, &proposed);
        Some((self.managed.plan(proposed, true), ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: M::State,
        proposed: M::State,
        _config: M::State,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(M::State, ValueEmpty, Vec<AttributePath>)> {
        self.managed.check(diags, &proposed);
        let replace = self.managed.replaced(&prior, &proposed);
        let creating = !replace.is_empty();
        let mut planned = self.managed.plan(proposed, creating);
        if !creating {
            self.managed.keep_equivalent(&prior, &mut planned);
        }
        Some((planned, private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: M::State,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: M::State,
        _config: M::State,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(M::State, ValueEmpty)> {
        let api = self.shared.api(diags)?;
        match self.managed.create(api, &planned).await {
            Ok(s) => Some((s, private_state)),
            Err(e) => {
                let what = format!("Creating {} {}", M::KIND, self.managed.label(&planned));
                failed(diags, &what, e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: M::State,
        planned: M::State,
        _config: M::State,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(M::State, ValueEmpty)> {
        let api = self.shared.api(diags)?;
        match self.managed.update(api, &prior, &planned).await {
            Ok(s) => Some((s, private_state)),
            Err(e) => {
                let what = format!("Updating {} {}", M::KIND, self.managed.label(&planned));
                failed(diags, &what, e);
                Some((prior, private_state))
            }
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: M::State,
        _private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let api = self.shared.api(diags)?;
        match self.managed.delete(api, &prior).await {
            Ok(()) => Some(()),
            Err(e) if e.is_not_found() => Some(()),
            Err(e) => {
                let what = format!("Deleting {} {}", M::KIND, self.managed.label(&prior));
                failed(diags, &what, e);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(M::State, ValueEmpty)> {
        let api = self.shared.api(diags)?;
        let Some(start) = self.managed.import_state(&id) else {
            error(
                diags,
                "Invalid import id",
                format!("{id:?} is not a {} import id ({}).", M::KIND, M::IMPORT_ID),
            );
            return None;
        };
        match self.managed.read(api, &start).await {
            Ok(Some(s)) => Some((s, ValueEmpty::default())),
            Ok(None) => {
                error(
                    diags,
                    "Cannot import",
                    format!("The {} {id} does not exist.", M::KIND),
                );
                None
            }
            Err(e) => {
                failed(diags, &format!("Importing {} {id}", M::KIND), e);
                None
            }
        }
    }
}
