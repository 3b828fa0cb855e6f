//! What the engine counts: reconciles by outcome, plan actions by kind, and
//! writes refused for the power levels' capacity.
//! The service registers these with its other metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// A series named by what it counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabels {
    /// The outcome or action.
    pub name: &'static str,
}

/// Cheap to clone: clones count into the same series.
#[derive(Clone, Default)]
pub struct EngineMetrics {
    reconciles: Family<NameLabels, Counter>,
    actions: Family<NameLabels, Counter>,
    power_levels_full: Counter,
}

impl EngineMetrics {
    /// Adds the engine's series to the service's registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("matrix_sync_reconciles", "Reconciles by outcome (ok, retry, dead)", self.reconciles.clone());
        registry.register("matrix_sync_plan_actions", "Planned actions applied, by kind", self.actions.clone());
        registry.register(
            "matrix_sync_power_levels_full",
            "Writes refused because a room's power levels would exceed the event size limit",
            self.power_levels_full.clone(),
        );
    }

    /// A reconcile ended: `ok`, `retry` or `dead`.
    pub fn count_reconcile(&self, outcome: &'static str) {
        self.reconciles.get_or_create(&NameLabels { name: outcome }).inc();
    }

    /// A plan action was sent to the homeserver.
    pub fn count_action(&self, action: &'static str) {
        self.actions.get_or_create(&NameLabels { name: action }).inc();
    }

    /// A write was refused because the power levels would be full.
    pub fn count_power_levels_full(&self) {
        self.power_levels_full.inc();
    }

    /// Reconciles that ended with `outcome` so far.
    pub fn reconciles(&self, outcome: &'static str) -> u64 {
        self.reconciles.get_or_create(&NameLabels { name: outcome }).get()
    }
}
