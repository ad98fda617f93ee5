#version 330
// Flat-shaded Lambert sun + hemispheric ambient, in linear light like simplepbr's output so
// both tonemap alike. The face normal comes from screen-space derivatives of the position.

uniform vec3 sun_dir;        // direction the light travels, instanced node space, unit
uniform vec3 sun_rgb;
uniform vec3 sky_rgb;
uniform vec3 ground_rgb;

in vec3 v_pos;
flat in vec4 v_color;

out vec4 o_color;

void main() {
    vec3 n = normalize(cross(dFdx(v_pos), dFdy(v_pos)));
    float sun = max(dot(n, -sun_dir), 0.0);
    vec3 ambient = mix(ground_rgb, sky_rgb, 0.5 + 0.5 * n.z);
    o_color = vec4(v_color.rgb * (sun * sun_rgb + ambient), v_color.a);
}
