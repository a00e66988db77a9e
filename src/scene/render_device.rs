//! One GPU device: burn trains on the wgpu device Bevy renders with.
//!
//! Bevy's `RenderInstance` lives only in the render world, so the setup is built in an
//! [`ExtractSchedule`] system and burn's device handed to the main world through
//! [`MainWorld`]. Without a render world (a headless app without `RenderPlugin`) burn opens
//! its own device instead.

use bevy::prelude::*;
use bevy::render::renderer::{RenderAdapter, RenderDevice, RenderInstance, RenderQueue};
use bevy::render::{ExtractSchedule, MainWorld, RenderApp};
use burn::backend::wgpu::{WgpuDevice, WgpuSetup};

use crate::learn::backend::{share_wgpu_device, wgpu_device};

/// burn's handle on the wgpu device training runs on, or why there is none. Made once a
/// sphere asks to train on wgpu: each device burn knows keeps a thread polling for work, for
/// the life of the process.
#[derive(Resource, Debug, Clone)]
pub(crate) struct BurnWgpuDevice(pub Result<WgpuDevice, String>);

/// Set in the main world when a sphere waits for [`BurnWgpuDevice`].
#[derive(Resource, Default)]
pub(crate) struct BurnDeviceWanted;

pub(crate) struct RenderDeviceSharingPlugin;

impl Plugin for RenderDeviceSharingPlugin {
    fn build(&self, _app: &mut App) {}

    fn finish(&self, app: &mut App) {
        // Which adapter a page has decides whether burn trains on it.
        #[cfg(target_arch = "wasm32")]
        app.insert_resource(super::browser_adapter::BrowserAdapter::ask());
        match app.get_sub_app_mut(RenderApp) {
            Some(render_app) => {
                render_app.add_systems(ExtractSchedule, share_render_device);
            }
            None => {
                let device = wgpu_device().map_err(|e| e.to_string());
                app.insert_resource(BurnWgpuDevice(device));
            }
        }
    }
}

fn share_render_device(
    instance: Res<RenderInstance>,
    adapter: Res<RenderAdapter>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    mut main_world: ResMut<MainWorld>,
    mut shared: Local<bool>,
) {
    if *shared || !main_world.contains_resource::<BurnDeviceWanted>() {
        return;
    }
    *shared = true;
    let setup = WgpuSetup {
        instance: wgpu::Instance::clone(&instance),
        adapter: wgpu::Adapter::clone(&adapter),
        device: device.wgpu_device().clone(),
        queue: wgpu::Queue::clone(&queue),
        backend: adapter.get_info().backend,
    };
    main_world.insert_resource(BurnWgpuDevice(Ok(share_wgpu_device(setup))));
}
