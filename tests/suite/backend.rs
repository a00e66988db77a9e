//! Which backend `Auto` picks for the adapter there is.

use bevy_neural_sphere::BackendKind;
use wgpu::{AdapterInfo, Backend, DeviceType};

fn adapter(name: &str, device_type: DeviceType) -> AdapterInfo {
    AdapterInfo {
        name: name.into(),
        vendor: 0,
        device: 0,
        device_type,
        device_pci_bus_id: String::new(),
        driver: String::new(),
        driver_info: String::new(),
        backend: Backend::Vulkan,
        subgroup_min_size: 4,
        subgroup_max_size: 64,
        transient_saves_memory: false,
    }
}

#[test]
fn auto_trains_on_a_gpu_and_on_the_cpu_beside_a_software_rasteriser() {
    let pick = |kind: BackendKind, info: Option<AdapterInfo>| kind.choose(info.as_ref());
    for (name, device_type) in [
        ("NVIDIA H200", DeviceType::DiscreteGpu),
        ("Intel(R) Iris(R) Xe Graphics", DeviceType::IntegratedGpu),
    ] {
        let choice = pick(BackendKind::Auto, Some(adapter(name, device_type))).unwrap();
        assert_eq!(choice.kind, BackendKind::Wgpu);
        assert!(choice.reason.contains(name), "{}", choice.reason);
    }
    for name in [
        "llvmpipe (LLVM 15.0.6, 256 bits)",
        "Microsoft Basic Render Driver",
    ] {
        let choice = pick(BackendKind::Auto, Some(adapter(name, DeviceType::Cpu))).unwrap();
        assert_eq!(choice.kind, BackendKind::Cpu);
        assert!(
            choice.reason.contains("software rasteriser"),
            "{}",
            choice.reason
        );
        assert!(choice.reason.contains(name), "{}", choice.reason);
    }
    let none = pick(BackendKind::Auto, None).unwrap();
    assert_eq!(none.kind, BackendKind::Cpu);
    assert!(
        none.reason.contains("no usable GPU adapter"),
        "{}",
        none.reason
    );

    // What is asked for explicitly is what trains; wgpu without an adapter says what works.
    let software = adapter("llvmpipe", DeviceType::Cpu);
    let wgpu = pick(BackendKind::Wgpu, Some(software.clone())).unwrap();
    assert_eq!(wgpu.kind, BackendKind::Wgpu);
    let gpu = adapter("NVIDIA H200", DeviceType::DiscreteGpu);
    assert_eq!(
        pick(BackendKind::Cpu, Some(gpu)).unwrap().kind,
        BackendKind::Cpu
    );
    let error = pick(BackendKind::Wgpu, None).unwrap_err().to_string();
    assert!(error.contains("--backend cpu"), "{error}");
}

#[test]
fn an_adapter_reached_only_through_opengl_does_not_train() {
    // wgpu falls back to OpenGL where there is no Vulkan driver, even on a real GPU; burn's
    // kernels panic there.
    let gl = AdapterInfo {
        backend: Backend::Gl,
        ..adapter("AMD Radeon (radeonsi)", DeviceType::IntegratedGpu)
    };
    let auto = BackendKind::Auto.choose(Some(&gl)).unwrap();
    assert_eq!(auto.kind, BackendKind::Cpu);
    assert!(auto.reason.contains("OpenGL"), "{}", auto.reason);
    let error = BackendKind::Wgpu.choose(Some(&gl)).unwrap_err().to_string();
    assert!(
        error.contains("OpenGL") && error.contains("--backend cpu"),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
}

#[test]
fn backends_parse_from_their_names() {
    for kind in [BackendKind::Auto, BackendKind::Wgpu, BackendKind::Cpu] {
        assert_eq!(kind.to_string().parse::<BackendKind>().unwrap(), kind);
    }
    assert_eq!(BackendKind::default(), BackendKind::Auto);
    let error = "cuda".parse::<BackendKind>().unwrap_err().to_string();
    assert!(error.contains("auto, wgpu or cpu"), "{error}");
}
