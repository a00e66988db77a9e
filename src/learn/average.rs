//! A running average of the network's parameters (exponential Polyak averaging): the network
//! that evaluation, checkpoints and exports show. Each step of Adam moves the parameters by a
//! noisy amount; their average moves with the trend and leaves the noise out, so a sphere that
//! has closed stays closed instead of tearing open and shut from one step to the next.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use super::model::SphereNet;

/// The exponential moving average of a network's parameters.
#[derive(Debug, Clone)]
pub(crate) struct ParameterAverage<B: Backend> {
    network: SphereNet<B>,
    weight: f64,
    updates: usize,
}

impl<B: Backend> ParameterAverage<B> {
    /// An average that starts at `network` and keeps `weight` of itself at each update.
    pub(crate) fn new(network: SphereNet<B>, weight: f64) -> Self {
        Self {
            network,
            weight,
            updates: 0,
        }
    }

    /// Blends `current` in: `average ← w · average + (1 − w) · current`. The first updates keep
    /// less of the average (`w = min(weight, (1 + k) / (10 + k))` at the k-th), so that it follows
    /// a young network, which changes fast, instead of lagging at its initialisation.
    pub(crate) fn update(&mut self, current: &SphereNet<B>) {
        let mut values = Flatten(Vec::new());
        current.visit(&mut values);
        let k = self.updates as f64;
        let keep = self.weight.min((1.0 + k) / (10.0 + k));
        self.network = self.network.clone().map(&mut Blend {
            current: values.0.into_iter(),
            keep,
        });
        self.updates += 1;
    }

    /// The averaged network.
    pub(crate) fn network(&self) -> &SphereNet<B> {
        &self.network
    }
}

/// Every float parameter, flattened, in the order modules visit and map them.
struct Flatten<B: Backend>(Vec<Tensor<B, 1>>);

impl<B: Backend> ModuleVisitor<B> for Flatten<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.val().reshape([-1]));
    }
}

/// Replaces each parameter by `keep` of itself plus `1 − keep` of the next of `current`.
struct Blend<B: Backend, I: Iterator<Item = Tensor<B, 1>>> {
    current: I,
    keep: f64,
}

impl<B: Backend, I: Iterator<Item = Tensor<B, 1>>> ModuleMapper<B> for Blend<B, I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, average, mapper) = param.consume();
        let current = (self.current.next())
            .expect("the average and the network have the same parameters")
            .reshape(average.dims());
        let blended = average * self.keep + current * (1.0 - self.keep);
        Param::from_mapped_value(id, blended, mapper)
    }
}
