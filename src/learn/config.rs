//! What a training run is trained with: its hyper-parameters and the named presets.

use std::str::FromStr;

use burn::prelude::*;

use super::model::{Activation, InputEncoding, SphereNetConfig};
use super::objective::Objective;
use crate::Error;

/// Hyper-parameters of a training run. The defaults are the notebook's.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// The network's architecture.
    #[config(default = "SphereNetConfig::new()")]
    pub model: SphereNetConfig,
    /// The loss.
    #[config(default = "Objective::Seed")]
    pub objective: Objective,
    /// Temperature `t` of [`Objective::Uniformity`]: higher pushes near neighbours apart harder.
    #[config(default = 2.0)]
    pub temperature: f64,
    /// Fresh uniform points drawn from [-0.5, 0.5)² each step.
    #[config(default = 1000)]
    pub batch: usize,
    /// Dropout passes over the batch each step; each adds its own loss term.
    #[config(default = 2)]
    pub passes: usize,
    /// Adam's initial learning rate.
    #[config(default = 0.05)]
    pub lr: f64,
    /// Steps between learning-rate decays.
    #[config(default = 1000)]
    pub lr_step: usize,
    /// Factor applied to the learning rate every `lr_step` steps.
    #[config(default = 0.8)]
    pub lr_gamma: f64,
    /// Every parameter is clamped to [-clamp, clamp] after each step.
    #[config(default = 2.0)]
    pub clamp: f32,
    /// Seeds the initialisation, the points, the permutations and dropout.
    #[config(default = 0)]
    pub seed: u64,
    /// Weight of the running average of the parameters, in [0, 1): each step blends its
    /// parameters into the average with weight `1 − average`, and evaluation, checkpoints and
    /// exports show the averaged network. 0 shows the network as the last step left it (the
    /// notebook's).
    #[config(default = 0.0)]
    pub average: f64,
    /// Weight of [`equal_area_loss`], added to the objective: 0 leaves it out.
    #[config(default = 0.0)]
    pub area_weight: f64,
    /// Step from which the equal-area term counts: a network that has not spread over the
    /// sphere yet spreads faster without it.
    #[config(default = 0)]
    pub area_from: usize,
    /// Weight of [`shape_loss`](crate::shape_loss), added with the equal-area term (from
    /// `area_from`, at its points): 0 leaves it out.
    #[config(default = 0.0)]
    pub shape_weight: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TrainConfig {
    /// Checks that the run can start.
    pub fn validate(&self) -> Result<(), Error> {
        self.model.validate().map_err(Error::Config)?;
        if self.batch < 2 || !self.batch.is_multiple_of(2) {
            return Err(Error::Config(format!(
                "batch {} must be even and at least 2 (it is split into two halves)",
                self.batch
            )));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::Config(format!(
                "temperature {} is not positive",
                self.temperature
            )));
        }
        if self.passes == 0 {
            return Err(Error::Config("passes must be at least 1".into()));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::Config(format!(
                "learning rate {} is not positive",
                self.lr
            )));
        }
        if self.lr_step == 0 {
            return Err(Error::Config("lr_step must be at least 1".into()));
        }
        if !(self.area_weight.is_finite() && self.area_weight >= 0.0) {
            return Err(Error::Config(format!(
                "area weight {} must be 0 or more",
                self.area_weight
            )));
        }
        if !(self.shape_weight.is_finite() && self.shape_weight >= 0.0) {
            return Err(Error::Config(format!(
                "shape weight {} must be 0 or more",
                self.shape_weight
            )));
        }
        if self.local_terms() && self.model.dropout.iter().any(|&p| p > 0.0) {
            return Err(Error::Config(
                "the equal-area and shape terms need a network without dropout".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.average) {
            return Err(Error::Config(format!(
                "average {} must be at least 0 and below 1",
                self.average
            )));
        }
        if !(self.clamp.is_finite() && self.clamp > 0.0) {
            return Err(Error::Config(format!(
                "clamp {} is not positive",
                self.clamp
            )));
        }
        Ok(())
    }

    /// Whether the equal-area or the shape term counts (from step `area_from`).
    pub fn local_terms(&self) -> bool {
        self.area_weight > 0.0 || self.shape_weight > 0.0
    }

    /// One line saying what the run trains: objective, network, optimiser, seed.
    pub fn summary(&self) -> String {
        let objective = match self.objective {
            Objective::Seed => "seed loss".to_string(),
            Objective::Uniformity => format!("uniformity t={}", self.temperature),
        };
        let objective = match self.area_weight > 0.0 {
            true => format!(
                "{objective} + {} x equal area from step {}",
                self.area_weight, self.area_from
            ),
            false => objective,
        };
        let objective = match self.shape_weight > 0.0 {
            true => format!("{objective} + {} x shape", self.shape_weight),
            false => objective,
        };
        let widths: Vec<String> = (std::iter::once(self.model.encoding.width()))
            .chain(self.model.hidden.iter().copied())
            .chain(std::iter::once(3))
            .map(|w| w.to_string())
            .collect();
        let activations: Vec<String> = (self.model.activations.iter())
            .map(|a| format!("{a:?}").to_lowercase())
            .collect();
        let average = match self.average > 0.0 {
            true => format!(", averaged {}", self.average),
            false => String::new(),
        };
        let encoding = match self.model.encoding {
            InputEncoding::Point => "",
            InputEncoding::Cones => " from cone features",
        };
        format!(
            "{objective}; net {}{encoding} ({}), dropout {:?}; lr {} x{} every {} steps, batch {}{average}, seed {}",
            widths.join("-"),
            activations.join(", "),
            self.model.dropout,
            self.lr,
            self.lr_gamma,
            self.lr_step,
            self.batch,
            self.seed,
        )
    }
}

/// Named training configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The notebook's run: its net, its loss, dropout and optimiser ([`TrainConfig::new`]).
    Seed,
    /// Closes the sphere: Wang & Isola uniformity at temperature 40 on a 64-64-64 SiLU net
    /// without dropout that sees each point with its cone features ([`InputEncoding::Cones`]),
    /// Adam lr 0.02 × 0.9 every 500 steps, shown through a running average of its parameters
    /// (weight 0.99), with the equal-area term (weight 3) and the shape term (weight 0.05) from
    /// step 500. Its 100×100 grid closes (coverage ≥ 99 %, largest empty cap ≤ 5°, nothing torn
    /// or covered twice) in a few hundred steps and stays closed.
    Closed,
}

impl Preset {
    /// Every preset, in the order menus list them.
    pub const ALL: [Preset; 2] = [Preset::Seed, Preset::Closed];

    /// The preset's name on the command line and in the panel.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Seed => "seed",
            Preset::Closed => "closed",
        }
    }

    /// The preset's hyper-parameters, with seed 0.
    pub fn config(self) -> TrainConfig {
        match self {
            Preset::Seed => TrainConfig::new(),
            Preset::Closed => TrainConfig::new()
                .with_model(
                    SphereNetConfig::new()
                        .with_hidden(vec![64, 64, 64])
                        .with_activations(vec![Activation::Silu; 3])
                        .with_dropout(vec![0.0; 3])
                        .with_encoding(InputEncoding::Cones),
                )
                .with_objective(Objective::Uniformity)
                .with_temperature(40.0)
                .with_passes(1)
                .with_lr(0.02)
                .with_lr_step(500)
                .with_lr_gamma(0.9)
                .with_average(0.99)
                .with_area_weight(3.0)
                .with_shape_weight(0.05)
                .with_area_from(500),
        }
    }
}

impl FromStr for Preset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| Error::Config(format!("unknown preset '{s}' (expected seed or closed)")))
    }
}
